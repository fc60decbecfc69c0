/*
 * hmmdev: the PCIe link -- Advanced Error Reporting, Function Level Reset
 * and falling off the bus (SPEC.rst, "PCIe errors, FLR and surprise
 * removal").
 *
 * AER is QEMU's own capability (hw/pci/pcie_aer.c): errors are injected
 * with the HMP command pcie_aer_inject_error and reach the root port.
 * FLR is QEMU's device reset through pcie_cap_flr_write_config().
 *
 * Surprise removal (x-inject-surprise-removal) is ours: from then on the
 * function is gone for good -- configuration, BAR0 and BAR2 reads return
 * all-ones, writes are dropped, no DMA reaches memory, no interrupt is
 * sent, engines make no progress -- and the hot-plug slot above it says
 * so, as a slot whose card was pulled does: no presence, link down,
 * Presence Detect Changed and Data Link Layer State Changed.  With native
 * hot-plug (q35 with ACPI PCI hot-plug off) Linux's pciehp then removes
 * the function on its surprise-removal path and powers the slot off; with
 * q35's default ACPI hot-plug nothing tells the guest, whose driver finds
 * out by itself.  device_del then completes (at once on a powered-off
 * slot).  A reset does not bring the function back.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/log.h"
#include "qapi/error.h"
#include "qapi/visitor.h"
#include "hw/pci/pci.h"
#include "hw/pci/pci_bridge.h"
#include "hw/pci/pcie.h"
#include "hw/pci/pcie_aer.h"
#include "hw/pci/msi.h"
#include "hw/pci/msix.h"
#include "hmmdev.h"
#include "trace.h"

bool hmmdev_gone(HmmdevState *s)
{
    return qatomic_read(&s->gone);
}

/* The hot-plug slot above @pdev (its port's PCIe capability), or NULL. */
static uint8_t *hmmdev_slot_cap(PCIDevice *pdev, PCIDevice **port_out)
{
    PCIDevice *port = pci_bridge_get_device(pci_get_bus(pdev));

    if (!port || !pci_is_express(port) || !port->exp.exp_cap ||
        !(pci_get_word(port->config + port->exp.exp_cap + PCI_EXP_FLAGS) &
          PCI_EXP_FLAGS_SLOT) ||
        !(pci_get_long(port->config + port->exp.exp_cap + PCI_EXP_SLTCAP) &
          PCI_EXP_SLTCAP_HPC)) {
        return NULL;
    }
    *port_out = port;
    return port->config + port->exp.exp_cap;
}

/*
 * Realize: the slot above us reports Data Link Layer State Changed events.
 * QEMU's ports do not (hw/pci/pcie.c: DLLSCE is not writable, DLLSC not
 * write-1-to-clear), and Linux's pciehp learns of a surprise removal
 * through them on a slot with an attention button, which QEMU's ports
 * have (it enables DLLSCE, and PDCE only without a button).  This makes
 * the two bits what the PCIe specification says; nothing else of the
 * port changes, and only our injection ever sets DLLSC.
 */
static void hmmdev_slot_dllsc_init(PCIDevice *pdev)
{
    PCIDevice *port;
    uint8_t *cap = hmmdev_slot_cap(pdev, &port);

    if (cap) {
        uint32_t pos = port->exp.exp_cap;

        pci_word_test_and_set_mask(port->wmask + pos + PCI_EXP_SLTCTL,
                                   PCI_EXP_SLTCTL_DLLSCE);
        pci_word_test_and_set_mask(port->w1cmask + pos + PCI_EXP_SLTSTA,
                                   PCI_EXP_SLTSTA_DLLSC);
    }
}

/*
 * BQL held: the root port above @pdev reports an empty slot -- no
 * presence, data link layer down, Presence Detect Changed and Data Link
 * Layer State Changed -- and interrupts as hotplug_event_notify()
 * (hw/pci/pcie.c) does, without unplugging anything: the device model
 * stays until device_del.
 */
static bool hmmdev_port_slot_empty(PCIDevice *pdev)
{
    PCIDevice *port;
    uint8_t *exp_cap = hmmdev_slot_cap(pdev, &port);
    uint16_t sltctl, sltsta;
    bool notify;

    if (!exp_cap) {
        return false;
    }
    pci_word_test_and_clear_mask(exp_cap + PCI_EXP_SLTSTA, PCI_EXP_SLTSTA_PDS);
    pci_word_test_and_clear_mask(exp_cap + PCI_EXP_LNKSTA,
                                 PCI_EXP_LNKSTA_DLLLA);
    pci_word_test_and_set_mask(exp_cap + PCI_EXP_SLTSTA,
                               PCI_EXP_SLTSTA_PDC | PCI_EXP_SLTSTA_DLLSC);
    sltctl = pci_get_word(exp_cap + PCI_EXP_SLTCTL);
    sltsta = pci_get_word(exp_cap + PCI_EXP_SLTSTA);
    /* DLLSC's enable is not at its status bit's position (0x1000) */
    notify = (sltctl & PCI_EXP_SLTCTL_HPIE) &&
             ((sltsta & sltctl & PCI_EXP_HP_EV_SUPPORTED) ||
              ((sltsta & PCI_EXP_SLTSTA_DLLSC) &&
               (sltctl & PCI_EXP_SLTCTL_DLLSCE)));
    if (notify && !port->exp.hpev_notified) {
        port->exp.hpev_notified = true;
        if (msix_enabled(port)) {
            msix_notify(port, pcie_cap_flags_get_vector(port));
        } else if (msi_enabled(port)) {
            msi_notify(port, pcie_cap_flags_get_vector(port));
        } else if (pci_intx(port) != -1) {
            pci_set_irq(port, 1);
        }
    }
    return true;
}

/* BQL held (qom-set): the function falls off the bus. */
static void hmmdev_fall_off_bus(HmmdevState *s)
{
    PCIDevice *pdev = PCI_DEVICE(s);
    bool port;

    if (qatomic_xchg(&s->gone, true)) {
        return;
    }
    hmmdev_count(s, HMMDEV_CNT_INJECTED, 1);
    memory_region_init_io(&s->gone_mr, OBJECT(s), &hmmdev_all_ones_ops, s,
                          "hmmdev-vram-gone", s->vram_size);
    memory_region_add_subregion_overlap(s->vram, 0, &s->gone_mr, 2);
    /* engines see gone and stop; a reset cannot bring them back */
    hmmdev_quiesce(s);
    port = hmmdev_port_slot_empty(pdev);
    trace_hmmdev_inject("surprise removal", port);
    qemu_log_mask(LOG_GUEST_ERROR, "hmmdev: fault injection: %s fell off "
                  "the bus%s\n", DEVICE(s)->id ? DEVICE(s)->id : "hmmdev",
                  port ? "; its root port reports an empty slot"
                  : " (no hot-plug slot above it)");
}

static uint32_t hmmdev_config_read(PCIDevice *pdev, uint32_t addr, int len)
{
    if (hmmdev_gone(HMMDEV(pdev))) {
        return len == 4 ? ~0u : (1u << (8 * len)) - 1;
    }
    return pci_default_read_config(pdev, addr, len);
}

/*
 * Bus mastering turned off: once the write is done, no engine access
 * started before it reaches memory (later ones fail as DMA errors).
 * Writing DEVCTL's Initiate FLR resets the function.
 */
static void hmmdev_config_write(PCIDevice *pdev, uint32_t addr, uint32_t val,
                                int len)
{
    bool was_master = pdev->config[PCI_COMMAND] & PCI_COMMAND_MASTER;

    if (hmmdev_gone(HMMDEV(pdev))) {
        return;
    }
    pci_default_write_config(pdev, addr, val, len);
    if (pci_is_express(pdev)) {
        pcie_cap_flr_write_config(pdev, addr, val, len);
    }
    if (was_master && !(pdev->config[PCI_COMMAND] & PCI_COMMAND_MASTER)) {
        hmmdev_quiesce(HMMDEV(pdev));
    }
}

/* Realize, after the PCIe capability: FLR and the AER capability. */
bool hmmdev_link_realize(HmmdevState *s, Error **errp)
{
    PCIDevice *pdev = PCI_DEVICE(s);

    if (!pci_is_express(pdev) || !pdev->exp.exp_cap) {
        return true;                /* conventional PCI: neither */
    }
    pcie_cap_flr_init(pdev);
    pcie_cap_deverr_init(pdev);     /* DEVCTL's error reporting enables */
    hmmdev_slot_dllsc_init(pdev);
    return pcie_aer_init(pdev, PCI_ERR_VER, HMMDEV_AER_OFFSET,
                         PCI_ERR_SIZEOF, errp) == 0;
}

/* Function reset (FLR, bus reset): error reporting off again. */
void hmmdev_link_reset(HmmdevState *s)
{
    PCIDevice *pdev = PCI_DEVICE(s);

    if (pci_is_express(pdev) && pdev->exp.exp_cap) {
        pcie_cap_deverr_reset(pdev);
    }
}

void hmmdev_link_exit(HmmdevState *s)
{
    PCIDevice *pdev = PCI_DEVICE(s);

    if (pdev->exp.aer_cap) {
        pcie_aer_exit(pdev);
    }
    if (s->gone) {
        memory_region_del_subregion(s->vram, &s->gone_mr);
        object_unparent(OBJECT(&s->gone_mr));
    }
}

static void hmmdev_get_gone(Object *obj, Visitor *v, const char *name,
                            void *opaque, Error **errp)
{
    bool val = hmmdev_gone(HMMDEV(obj));

    visit_type_bool(v, name, &val, errp);
}

static void hmmdev_set_gone(Object *obj, Visitor *v, const char *name,
                            void *opaque, Error **errp)
{
    bool val;

    if (!visit_type_bool(v, name, &val, errp)) {
        return;
    }
    if (!DEVICE(obj)->realized) {
        error_setg(errp, "hmmdev: x-inject-surprise-removal is set at run "
                   "time");
        return;
    }
    if (!val) {
        if (hmmdev_gone(HMMDEV(obj))) {
            error_setg(errp, "hmmdev: a removed function does not come back "
                       "(device_del, then device_add a new one)");
        }
        return;
    }
    hmmdev_fall_off_bus(HMMDEV(obj));
}

void hmmdev_link_class_init(ObjectClass *klass)
{
    PCIDeviceClass *k = PCI_DEVICE_CLASS(klass);

    k->config_read = hmmdev_config_read;
    k->config_write = hmmdev_config_write;
    object_class_property_add(klass, "x-inject-surprise-removal", "bool",
                              hmmdev_get_gone, hmmdev_set_gone, NULL, NULL);
    object_class_property_set_description(klass, "x-inject-surprise-removal",
        "true: the function falls off the bus (all-ones, no DMA, no "
        "interrupts) and its root port reports an empty slot");
}
