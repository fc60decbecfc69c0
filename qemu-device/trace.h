#include "trace/trace-hw_misc_hmmdev.h"
