#include "controller/leadership.h"

#include <libpq-fe.h>

#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "controller/sql_db.h"
#include "migrations/dsn.h"
#include "serving/log.h"

namespace fleet::controller {
namespace {

// The advisory lock that is the leadership: one key for every controller
// of one inventory database.
constexpr char kLockKey[] = "hashtext('fleet-controller-leader')";

}  // namespace

struct Leadership::Conn {
  PGconn* pg = nullptr;
  ~Conn() { PQfinish(pg); }
  // The first value of `sql`'s first row ("" when none); an error when it fails.
  absl::StatusOr<std::string> Value(const std::string& sql,
                                    const std::vector<std::string>& params = {}) {
    std::vector<const char*> values;
    for (const auto& p : params) values.push_back(p.c_str());
    PGresult* r = PQexecParams(pg, sql.c_str(), static_cast<int>(values.size()), nullptr,
                               values.data(), nullptr, nullptr, 0);
    const ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
      std::string error = OneLine(PQresultErrorMessage(r));
      if (error.empty()) error = OneLine(PQerrorMessage(pg));
      PQclear(r);
      return absl::UnavailableError(absl::StrCat("inventory leadership: ", error));
    }
    std::string out = PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "";
    PQclear(r);
    return out;
  }
};

Leadership::Leadership(Options options) : options_(std::move(options)) {}
Leadership::~Leadership() = default;

absl::StatusOr<std::unique_ptr<Leadership>> Leadership::Open(Options options) {
  std::unique_ptr<Leadership> l(new Leadership(std::move(options)));
  if (absl::Status s = l->Connect(); !s.ok()) return s;
  return l;
}

absl::Status Leadership::Connect() {
  auto info = migrations::ParseConnectionString(options_.conninfo);
  if (!info.ok()) return info.status();
  std::string conninfo = options_.conninfo;
  for (const auto& [key, value] :
       std::vector<std::pair<std::string, std::string>>{{"connect_timeout", "10"},
                                                        {"application_name", "fleet-leader"},
                                                        {"keepalives", "1"},
                                                        {"keepalives_idle", "5"},
                                                        {"keepalives_interval", "2"},
                                                        {"keepalives_count", "2"}}) {
    conninfo = migrations::WithDefaultOption(conninfo, key, value);
  }
  conn_ = std::make_unique<Conn>();
  conn_->pg = PQconnectdb(conninfo.c_str());
  if (PQstatus(conn_->pg) != CONNECTION_OK) {
    return absl::UnavailableError(
        absl::StrCat("cannot reach the inventory ", info->Name(), " for leadership: ",
                     migrations::ScrubSecrets(OneLine(PQerrorMessage(conn_->pg)),
                                              options_.conninfo)));
  }
  // The server ends this session when it idles longer than the timeout (the
  // process stopped) or its peer stops answering (the machine or the network
  // gone), and the lock goes with it.
  const int64_t seconds = std::max<int64_t>(1, absl::ToInt64Seconds(options_.session_timeout));
  for (const std::string& set :
       {absl::StrCat("SET idle_session_timeout = '", seconds, "s'"),
        std::string("SET tcp_keepalives_idle = 5"), std::string("SET tcp_keepalives_interval = 2"),
        std::string("SET tcp_keepalives_count = 2")}) {
    auto r = conn_->Value(set);
    if (!r.ok()) return r.status();
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> Leadership::WaitToLead(
    const std::atomic<bool>& stop, const std::function<void(const std::string&)>& standing_by) {
  bool said = false;
  for (;;) {
    if (stop) return absl::CancelledError("stopped while standing by");
    if (PQstatus(conn_->pg) != CONNECTION_OK) {
      if (absl::Status s = Connect(); !s.ok()) {
        spdlog::warn("event=leadership-unreachable error=\"{}\"", s.message());
        std::this_thread::sleep_for(absl::ToChronoMilliseconds(options_.retry));
        continue;
      }
    }
    auto got = conn_->Value(absl::StrCat("SELECT pg_try_advisory_lock(", kLockKey, ")"));
    if (got.ok() && *got == "t") break;
    if (!said && got.ok()) {
      standing_by(LeaderAddress());
      said = true;
    }
    // Also keeps this session from idling out while it waits.
    std::this_thread::sleep_for(absl::ToChronoMilliseconds(options_.retry));
  }
  auto epoch = conn_->Value(
      "UPDATE leader SET epoch = epoch + 1, address = $1, since = "
      "to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') RETURNING epoch",
      {options_.address});
  if (!epoch.ok()) return epoch.status();
  int64_t value = 0;
  if (!absl::SimpleAtoi(*epoch, &value)) {
    return absl::DataLossError("inventory leadership: the leader row is missing");
  }
  return value;
}

absl::Status Leadership::Advertise(const std::string& address, int64_t epoch) {
  return conn_->Value("UPDATE leader SET address = $1 WHERE epoch = $2",
                      {address, std::to_string(epoch)})
      .status();
}

bool Leadership::Leading() {
  auto r = conn_->Value("SELECT 1");
  return r.ok() && PQstatus(conn_->pg) == CONNECTION_OK;
}

std::string Leadership::LeaderAddress() {
  auto r = conn_->Value("SELECT address FROM leader WHERE one = 1");
  return r.ok() ? *r : std::string();
}

}  // namespace fleet::controller
