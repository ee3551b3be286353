/* boxlite.h: run untrusted code in lightweight virtual machines. */
#pragma once

#define BOXLITE_INSIDE
#include "boxlite-box-options.h"
#include "boxlite-box.h"
#include "boxlite-box-export.h"
#include "boxlite-box-logs.h"
#include "boxlite-box-metrics.h"
#include "boxlite-box-snapshot.h"
#include "boxlite-command.h"
#include "boxlite-enums.h"
#include <boxlite/boxlite-enum-types.h>
#include "boxlite-error.h"
#include "boxlite-execution.h"
#include "boxlite-image.h"
#include "boxlite-options.h"
#include "boxlite-runtime.h"
#undef BOXLITE_INSIDE
