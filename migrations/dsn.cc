#include "migrations/dsn.h"

#include <libpq-fe.h>

#include <algorithm>
#include <map>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace fleet::migrations {
namespace {

struct OptionsFree {
  void operator()(PQconninfoOption* o) const { PQconninfoFree(o); }
};

bool IsUrl(absl::string_view dsn) {
  return absl::StartsWith(dsn, "postgresql://") || absl::StartsWith(dsn, "postgres://");
}

// keyword -> value of every option libpq found set.
std::map<std::string, std::string> Values(const PQconninfoOption* options) {
  std::map<std::string, std::string> out;
  for (const PQconninfoOption* o = options; o != nullptr && o->keyword != nullptr; ++o) {
    if (o->val != nullptr) out[o->keyword] = o->val;
  }
  return out;
}

}  // namespace

std::string PercentEncode(absl::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string ConnectionInfo::Name() const {
  return absl::StrCat(user, "@", host, ":", port, "/", dbname);
}

absl::StatusOr<ConnectionInfo> ParseConnectionString(absl::string_view dsn) {
  const std::string text(dsn);
  char* error = nullptr;
  std::unique_ptr<PQconninfoOption, OptionsFree> parsed(PQconninfoParse(text.c_str(), &error));
  // libpq's message may quote part of the string: it is not passed on.
  if (error != nullptr) PQfreemem(error);
  if (!parsed) {
    return absl::InvalidArgumentError(
        "libpq cannot parse the connection string (a URL, or key=value pairs where a value with "
        "spaces or quotes is single-quoted and backslash-escaped)");
  }
  std::map<std::string, std::string> v = Values(parsed.get());
  // In a URL, a raw '@' is the end of the user and password, once. A
  // second one, or one libpq did not read as that end (a password with an
  // unencoded '/'), means libpq would take part of a password for the host,
  // port or database: refused, so that no name built from them shows it.
  if (IsUrl(dsn)) {
    const size_t ats = std::count(dsn.begin(), dsn.end(), '@');
    const bool userinfo = v.count("user") > 0 || v.count("password") > 0;
    if (ats > 1 || (ats == 1 && !userinfo)) {
      return absl::InvalidArgumentError(
          "the connection URL holds an '@' that does not end its user and password: "
          "percent-encode '@' in a password as %40 and '/' as %2F");
    }
  }
  std::unique_ptr<PQconninfoOption, OptionsFree> defaults(PQconndefaults());
  std::map<std::string, std::string> d = Values(defaults.get());
  auto pick = [&](const char* key, const std::string& fallback) {
    if (auto it = v.find(key); it != v.end() && !it->second.empty()) return it->second;
    if (auto it = d.find(key); it != d.end() && !it->second.empty()) return it->second;
    return fallback;
  };
  ConnectionInfo info;
  info.user = pick("user", "?");
  info.host = pick("host", pick("hostaddr", "localhost"));
  info.port = pick("port", "5432");
  info.dbname = pick("dbname", info.user);
  if (auto it = v.find("password"); it != v.end()) info.password = it->second;
  return info;
}

std::string ConnectionName(absl::string_view dsn) {
  auto info = ParseConnectionString(dsn);
  return info.ok() ? info->Name() : "an unparseable connection string";
}

std::string DsnPassword(absl::string_view dsn) {
  auto info = ParseConnectionString(dsn);
  return info.ok() ? info->password : "";
}

namespace {

std::string SetOption(absl::string_view dsn, const std::string& keyword, const std::string& value,
                      bool replace) {
  const std::string text(dsn);
  char* error = nullptr;
  std::unique_ptr<PQconninfoOption, OptionsFree> parsed(PQconninfoParse(text.c_str(), &error));
  if (error != nullptr) PQfreemem(error);
  if (!parsed) return text;
  std::map<std::string, std::string> v = Values(parsed.get());
  if (v.count(keyword) && !replace) return text;
  v[keyword] = value;
  std::string out;
  for (const auto& [k, val] : v) {
    absl::StrAppend(&out, out.empty() ? "" : " ", k, "='");
    for (char c : val) {
      if (c == '\\' || c == '\'') out.push_back('\\');
      out.push_back(c);
    }
    out.push_back('\'');
  }
  return out;
}

}  // namespace

std::string WithDefaultOption(absl::string_view dsn, const std::string& keyword,
                              const std::string& value) {
  return SetOption(dsn, keyword, value, /*replace=*/false);
}

std::string WithOption(absl::string_view dsn, const std::string& keyword,
                       const std::string& value) {
  return SetOption(dsn, keyword, value, /*replace=*/true);
}

std::string ScrubSecrets(absl::string_view message, absl::string_view dsn) {
  std::string out(message);
  if (!dsn.empty() && absl::StrContains(out, dsn)) {
    out = absl::StrReplaceAll(out, {{std::string(dsn), ConnectionName(dsn)}});
  }
  std::string password = DsnPassword(dsn);
  if (!password.empty()) {
    out = absl::StrReplaceAll(out, {{password, "***"}, {PercentEncode(password), "***"}});
  }
  return out;
}

}  // namespace fleet::migrations
