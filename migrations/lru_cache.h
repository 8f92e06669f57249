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

#include <condition_variable>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"

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
                                  const std::function<absl::StatusOr<Loaded>()>& load) {
    std::shared_ptr<Flight> flight;
    bool leader = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (auto it = entries_.find(key); it != entries_.end()) {
        Touch(it->second);
        return it->second.value;
      }
      auto& f = flights_[key];
      if (!f) {
        f = std::make_shared<Flight>();
        leader = true;
      }
      flight = f;
      if (!leader) {
        landed_.wait(lock, [&] { return flight->done; });
        return flight->result;
      }
    }
    absl::StatusOr<Loaded> loaded = load();
    std::lock_guard<std::mutex> lock(mu_);
    flights_.erase(key);
    flight->done = true;
    if (loaded.ok()) {
      flight->result = loaded->value;
      Insert(key, *std::move(loaded));
    } else {
      flight->result = loaded.status();
    }
    landed_.notify_all();
    return flight->result;
  }

  // Puts a value one already has (replacing any under `key`).
  void Put(const std::string& key, Loaded loaded) {
    std::lock_guard<std::mutex> lock(mu_);
    Insert(key, std::move(loaded));
  }

  // The cached value of `key`, or null; does not load.
  Value Find(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return nullptr;
    Touch(it->second);
    return it->second.value;
  }

  size_t bytes() {
    std::lock_guard<std::mutex> lock(mu_);
    return bytes_;
  }
  size_t size() {
    std::lock_guard<std::mutex> lock(mu_);
    return entries_.size();
  }

 private:
  struct Entry {
    Value value;
    size_t bytes = 0;
    std::list<std::string>::iterator order;
  };
  struct Flight {
    bool done = false;
    absl::StatusOr<Value> result;
  };

  void Touch(Entry& e) { order_.splice(order_.end(), order_, e.order); }

  void Insert(const std::string& key, Loaded loaded) {
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
  std::mutex mu_;
  std::condition_variable landed_;
  std::map<std::string, Entry> entries_;                   // GUARDED_BY(mu_)
  std::list<std::string> order_;                           // GUARDED_BY(mu_): oldest first
  std::map<std::string, std::shared_ptr<Flight>> flights_;  // GUARDED_BY(mu_)
  size_t bytes_ = 0;                                       // GUARDED_BY(mu_)
};

}  // namespace fleet::migrations

#endif  // FLEET_MIGRATIONS_LRU_CACHE_H_
