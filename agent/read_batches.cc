#include "agent/read_batches.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"

namespace fleet::agent {

std::vector<ReadBatch> PlanReadBatches(const std::vector<TenantConfig>& tenants, size_t workers) {
  std::map<std::pair<std::string, std::string>, std::vector<size_t>> by_database;
  for (size_t i = 0; i < tenants.size(); ++i) {
    by_database[{tenants[i].dsn, tenants[i].version_table}].push_back(i);
  }
  workers = std::max<size_t>(1, workers);
  std::vector<ReadBatch> batches;
  for (auto& [key, members] : by_database) {
    const size_t chunks =
        std::min({members.size(), std::max<size_t>(1, workers / by_database.size()),
                  (members.size() + kSchemasPerSession - 1) / kSchemasPerSession});
    for (size_t c = 0; c < chunks; ++c) {
      ReadBatch batch;
      for (size_t k = c; k < members.size(); k += chunks) batch.tenants.push_back(members[k]);
      if (c > 0) batch.affinity = absl::StrCat("schemas ", c, "/", chunks);
      batches.push_back(std::move(batch));
    }
  }
  return batches;
}

}  // namespace fleet::agent
