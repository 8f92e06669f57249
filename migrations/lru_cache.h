// LruCache: values by key, least recently used first out, bounded by the
// bytes the values say they hold. Built for parsed bundles (a graph of
// scripts can be hundreds of megabytes): a miss loads the value once even
// when many threads ask at the same moment (the others wait for it), and
// the newest value is kept even when it alone is over the budget.
//
// Threads: every method is safe from any thread. Values are shared_ptr to
// const: callers keep using one after it left the cache.
#ifndef FLEET_MIGRATIONS_LRU_CACHE_H_
#define FLEET_MIGRATIONS_LRU_CACHE_H_

#include <functional>
#include <list>
#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace fleet::migrations {

template <typename V>
class LruCache {
 public:
  using Value = std::shared_ptr<const V>;
  // A loaded value and the bytes it holds.
  struct Loaded {
    Value value;
    size_t bytes = 0;
  };
  explicit LruCache(size_t budget_bytes) : budget_(budget_bytes) {}
  LruCache(const LruCache&) = delete;
  LruCache& operator=(const LruCache&) = delete;

  // The value of `key`: cached, or loaded by `load` (once, whoever else asks
  // meanwhile). A failed load is returned to everyone who waited for it and
  // is not cached.
  absl::StatusOr<Value> GetOrLoad(const std::string& key,
                                  const std::function<absl::StatusOr<Loaded>()>& load)
      ABSL_LOCKS_EXCLUDED(mu_) {
    std::shared_ptr<Flight> flight;
    {
      absl::MutexLock lock(&mu_);
      if (auto it = entries_.find(key); it != entries_.end()) {
        Touch(it->second);
        return it->second.value;
      }
      auto& f = flights_[key];
      if (f) {
        // Another thread loads it: wait for that one to land.
        flight = f;
        while (!flight->done) landed_.Wait(&mu_);
        return flight->result;
      }
      f = std::make_shared<Flight>();
      flight = f;
    }
    // The leader loads without the lock: `load` may take locks of its own.
    // A load that throws is a failed load for everyone who waited for it,
    // never a flight that never lands.
    absl::StatusOr<Loaded> loaded = absl::InternalError("the load did not finish");
    try {
      loaded = load();
    } catch (const std::exception& e) {
      loaded = absl::InternalError(absl::StrCat("loading ", key, ": ", e.what()));
    }
    absl::MutexLock lock(&mu_);
    flights_.erase(key);
    flight->done = true;
    if (loaded.ok()) {
      flight->result = loaded->value;
      Insert(key, *std::move(loaded));
    } else {
      flight->result = loaded.status();
    }
    landed_.SignalAll();
    return flight->result;
  }

  // Puts a value one already has (replacing any under `key`).
  void Put(const std::string& key, Loaded loaded) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    Insert(key, std::move(loaded));
  }

  // The cached value of `key`, or null; does not load.
  Value Find(const std::string& key) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return nullptr;
    Touch(it->second);
    return it->second.value;
  }

  size_t bytes() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return bytes_;
  }
  size_t size() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return entries_.size();
  }

 private:
  struct Entry {
    Value value;
    size_t bytes = 0;
    std::list<std::string>::iterator order;
  };
  // One load in progress. Its fields are guarded by the cache's mu_ (which
  // an annotation inside this struct cannot name).
  struct Flight {
    bool done = false;
    absl::StatusOr<Value> result;
  };

  void Touch(Entry& e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    order_.splice(order_.end(), order_, e.order);
  }

  void Insert(const std::string& key, Loaded loaded) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (auto it = entries_.find(key); it != entries_.end()) {
      bytes_ -= it->second.bytes;
      order_.erase(it->second.order);
      entries_.erase(it);
    }
    order_.push_back(key);
    entries_[key] = Entry{std::move(loaded.value), loaded.bytes, std::prev(order_.end())};
    bytes_ += loaded.bytes;
    // Oldest first out; the newest stays even alone over the budget.
    while (bytes_ > budget_ && order_.size() > 1) {
      auto oldest = entries_.find(order_.front());
      bytes_ -= oldest->second.bytes;
      entries_.erase(oldest);
      order_.pop_front();
    }
  }

  const size_t budget_;
  absl::Mutex mu_;
  absl::CondVar landed_;  // a flight is done
  std::map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  std::list<std::string> order_ ABSL_GUARDED_BY(mu_);  // oldest first
  std::map<std::string, std::shared_ptr<Flight>> flights_ ABSL_GUARDED_BY(mu_);
  size_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace fleet::migrations

#endif  // FLEET_MIGRATIONS_LRU_CACHE_H_
