#include "migrations/dsn.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace fleet::migrations {
namespace {

bool IsUrl(absl::string_view dsn) {
  return absl::StartsWith(dsn, "postgresql://") || absl::StartsWith(dsn, "postgres://");
}

std::string PercentDecode(absl::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && absl::ascii_isxdigit(s[i + 1]) &&
        absl::ascii_isxdigit(s[i + 2])) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// For a URL: [start, end) of the password inside the userinfo, if any.
bool UrlPasswordSpan(absl::string_view dsn, size_t* start, size_t* end) {
  size_t scheme = dsn.find("://");
  size_t auth_end = dsn.find_first_of("/?#", scheme + 3);
  if (auth_end == absl::string_view::npos) auth_end = dsn.size();
  size_t at = dsn.rfind('@', auth_end);
  if (at == absl::string_view::npos || at < scheme) return false;
  size_t colon = dsn.find(':', scheme + 3);
  if (colon == absl::string_view::npos || colon > at) return false;
  *start = colon + 1;
  *end = at;
  return true;
}

// For a URL's query: the value spans of the password parameter.
// For conninfo: the value spans of the password keyword, quoted or not.
struct Span {
  size_t start, end;
};

std::vector<Span> KeywordPasswordSpans(absl::string_view dsn) {
  std::vector<Span> spans;
  if (IsUrl(dsn)) {
    size_t q = dsn.find('?');
    while (q != absl::string_view::npos) {
      size_t key = q + 1;
      if (absl::StartsWith(dsn.substr(key), "password=")) {
        size_t v = key + 9;
        size_t e = dsn.find('&', v);
        spans.push_back({v, e == absl::string_view::npos ? dsn.size() : e});
      }
      q = dsn.find('&', key);
    }
    return spans;
  }
  size_t i = 0;
  while (i < dsn.size()) {
    while (i < dsn.size() && absl::ascii_isspace(dsn[i])) ++i;
    size_t key_start = i;
    while (i < dsn.size() && dsn[i] != '=' && !absl::ascii_isspace(dsn[i])) ++i;
    absl::string_view key = dsn.substr(key_start, i - key_start);
    while (i < dsn.size() && absl::ascii_isspace(dsn[i])) ++i;
    if (i >= dsn.size() || dsn[i] != '=') break;
    ++i;
    while (i < dsn.size() && absl::ascii_isspace(dsn[i])) ++i;
    size_t v = i;
    if (i < dsn.size() && dsn[i] == '\'') {
      ++i;
      while (i < dsn.size() && dsn[i] != '\'') i += dsn[i] == '\\' ? 2 : 1;
      i = std::min(i + 1, dsn.size());
    } else {
      while (i < dsn.size() && !absl::ascii_isspace(dsn[i])) i += dsn[i] == '\\' ? 2 : 1;
      i = std::min(i, dsn.size());
    }
    if (key == "password") spans.push_back({v, i});
  }
  return spans;
}

}  // namespace

std::string RedactDsn(absl::string_view dsn) {
  std::vector<Span> spans = KeywordPasswordSpans(dsn);
  size_t s, e;
  if (IsUrl(dsn) && UrlPasswordSpan(dsn, &s, &e)) spans.push_back({s, e});
  std::sort(spans.begin(), spans.end(), [](Span a, Span b) { return a.start > b.start; });
  std::string out(dsn);
  for (Span sp : spans) out.replace(sp.start, sp.end - sp.start, "***");
  return out;
}

std::string DsnPassword(absl::string_view dsn) {
  size_t s, e;
  if (IsUrl(dsn)) {
    if (UrlPasswordSpan(dsn, &s, &e)) return PercentDecode(dsn.substr(s, e - s));
    for (Span sp : KeywordPasswordSpans(dsn)) {
      return PercentDecode(dsn.substr(sp.start, sp.end - sp.start));
    }
    return "";
  }
  for (Span sp : KeywordPasswordSpans(dsn)) {
    absl::string_view v = dsn.substr(sp.start, sp.end - sp.start);
    if (v.size() >= 2 && v.front() == '\'' && v.back() == '\'') v = v.substr(1, v.size() - 2);
    std::string out;
    for (size_t i = 0; i < v.size(); ++i) {
      if (v[i] == '\\' && i + 1 < v.size()) ++i;
      out.push_back(v[i]);
    }
    return out;
  }
  return "";
}

std::string ScrubSecrets(absl::string_view message, absl::string_view dsn) {
  std::string out(message);
  std::string password = DsnPassword(dsn);
  if (!password.empty()) {
    out = absl::StrReplaceAll(out, {{password, "***"}});
    size_t s, e;
    if (IsUrl(dsn) && UrlPasswordSpan(dsn, &s, &e)) {
      std::string raw(dsn.substr(s, e - s));
      if (!raw.empty()) out = absl::StrReplaceAll(out, {{raw, "***"}});
    }
  }
  // Whole connection strings echoed back lose their password too.
  if (absl::StrContains(out, dsn) && !dsn.empty()) {
    out = absl::StrReplaceAll(out, {{std::string(dsn), RedactDsn(dsn)}});
  }
  return out;
}

}  // namespace fleet::migrations
