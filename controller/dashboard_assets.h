// The dashboard's files (controller/dashboard/), compiled into the binary
// by cmake/embed_files.cmake: nothing is read from disk or fetched at run
// time.
#ifndef FLEET_CONTROLLER_DASHBOARD_ASSETS_H_
#define FLEET_CONTROLLER_DASHBOARD_ASSETS_H_

#include <vector>

#include "serving/embedded_file.h"

namespace fleet::controller {

const std::vector<serving::EmbeddedFile>& DashboardAssets();

}  // namespace fleet::controller

#endif  // FLEET_CONTROLLER_DASHBOARD_ASSETS_H_
