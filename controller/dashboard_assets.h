// The dashboard's files (controller/dashboard/), compiled into the binary
// by cmake/embed_files.cmake: nothing is read from disk or fetched at run
// time.
#ifndef FLEET_CONTROLLER_DASHBOARD_ASSETS_H_
#define FLEET_CONTROLLER_DASHBOARD_ASSETS_H_

#include <cstddef>
#include <vector>

namespace fleet::controller {

struct Asset {
  const char* name;  // "app.js"
  const unsigned char* data;
  size_t size;
};

const std::vector<Asset>& DashboardAssets();

}  // namespace fleet::controller

#endif  // FLEET_CONTROLLER_DASHBOARD_ASSETS_H_
