// Validation of identifiers that cross the wire, shared by every process so
// that all of them accept and refuse the same things. Header-only; pure.
#ifndef FLEET_PROTO_VALIDATE_H_
#define FLEET_PROTO_VALIDATE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace fleet::proto {

// OK when `id` can name a tenant: 1-128 characters of [A-Za-z0-9._:-],
// starting with a letter or digit.
inline absl::Status ValidateTenantId(const std::string& id) {
  auto shown = [&] { return absl::StrCat("'", id.substr(0, 64), id.size() > 64 ? "...'" : "'"); };
  if (id.empty()) return absl::InvalidArgumentError("tenant id is empty");
  if (id.size() > 128) {
    return absl::InvalidArgumentError(
        absl::StrCat("tenant id ", shown(), " is ", id.size(), " characters; the limit is 128"));
  }
  if (!absl::ascii_isalnum(static_cast<unsigned char>(id[0]))) {
    return absl::InvalidArgumentError(
        absl::StrCat("tenant id ", shown(), " must start with a letter or digit"));
  }
  for (char c : id) {
    if (!(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' ||
          c == ':' || c == '-')) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tenant id ", shown(), " may hold only letters, digits, '.', '_', ':' and '-'"));
    }
  }
  return absl::OkStatus();
}

// OK when `address` looks like host:port (no spaces or control characters,
// at most 256 bytes).
inline absl::Status ValidateAddress(const std::string& address) {
  if (address.empty()) return absl::InvalidArgumentError("agent address is empty");
  if (address.size() > 256) {
    return absl::InvalidArgumentError(
        absl::StrCat("agent address is ", address.size(), " bytes; the limit is 256"));
  }
  for (char c : address) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == '\'' || c == '"' || c == ';' || c == ',') {
      return absl::InvalidArgumentError(
          absl::StrCat("agent address '", address.substr(0, 64),
                       "' holds a space, quote, comma, semicolon or control character (one "
                       "agent is one host:port)"));
    }
  }
  if (address.rfind(':') == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("agent address '", address.substr(0, 64), "' needs a port (host:port)"));
  }
  return absl::OkStatus();
}

// OK for a label key or value: 1-63 (keys) / 0-256 (values) printable
// characters without '=' ',' or spaces.
inline absl::Status ValidateLabel(const std::string& key, const std::string& value) {
  if (key.empty() || key.size() > 63) {
    return absl::InvalidArgumentError("label keys are 1-63 characters");
  }
  if (value.size() > 256) return absl::InvalidArgumentError("label values are at most 256 characters");
  for (const std::string* s : {&key, &value}) {
    for (char c : *s) {
      if (static_cast<unsigned char>(c) <= 0x20 || c == '=' || c == ',' || c == '"' || c == '\'') {
        return absl::InvalidArgumentError(absl::StrCat(
            "label '", key.substr(0, 63), "' holds a space, '=', ',', quote or control character"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace fleet::proto

#endif  // FLEET_PROTO_VALIDATE_H_
