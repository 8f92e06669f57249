// Error propagation helpers for absl::Status / absl::StatusOr.
//
// Debian 12's abseil (20220623) ships neither RETURN_IF_ERROR nor
// ASSIGN_OR_RETURN; these are the project's one definition of each.
#ifndef FLEET_MIGRATIONS_STATUS_MACROS_H_
#define FLEET_MIGRATIONS_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define FLEET_STATUS_CONCAT_INNER_(a, b) a##b
#define FLEET_STATUS_CONCAT_(a, b) FLEET_STATUS_CONCAT_INNER_(a, b)

// Returns the status from the enclosing function when `expr` is not OK.
#define RETURN_IF_ERROR(expr)                  \
  do {                                         \
    ::absl::Status fleet_status_ = (expr);     \
    if (!fleet_status_.ok()) return fleet_status_; \
  } while (false)

// `ASSIGN_OR_RETURN(auto x, Foo());` assigns the value of a StatusOr to `x`,
// or returns its status from the enclosing function.
#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL_(FLEET_STATUS_CONCAT_(fleet_statusor_, __LINE__), lhs, expr)

#define ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                           \
  if (!statusor.ok()) return statusor.status();     \
  lhs = std::move(statusor).value()

#endif  // FLEET_MIGRATIONS_STATUS_MACROS_H_
