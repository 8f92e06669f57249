// Revision-graph benchmark: generated versions directories of three shapes
// at 1,000, 10,000 and 100,000 revisions. Each iteration loads the directory
// from disk, builds the graph (heads), plans `upgrade heads` from base and
// resolves a prefix: the work of one `fleetctl upgrade`. Run by hand:
//
//   build/bench/graph_bench --benchmark_counters_tabular=true
//
// Target (README): 10,000 revisions of any shape in under 200 ms, growing no
// worse than n log n.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "migrations/script_directory.h"

namespace {

namespace fs = std::filesystem;
using fleet::migrations::DefaultFileSystem;
using fleet::migrations::LoadRevisionGraph;

enum Shape { kChain = 0, kDiamonds = 1, kBranchy = 2 };

std::string Id(int i) { return absl::StrFormat("%012x", 0x100000 + i * 7919); }

// Writes n scripts of `shape` into a fresh directory and returns it.
std::string Generate(Shape shape, int n) {
  static std::map<std::pair<int, int>, std::string>* cache =
      new std::map<std::pair<int, int>, std::string>();
  auto key = std::make_pair(static_cast<int>(shape), n);
  if (auto it = cache->find(key); it != cache->end()) return it->second;
  std::string dir = absl::StrCat(fs::temp_directory_path().string(), "/fleet-bench-", getpid(),
                                 "-", shape, "-", n);
  fs::remove_all(dir);
  fs::create_directories(dir);
  auto write = [&](int i, const std::string& down, const std::string& deps) {
    std::ofstream out(absl::StrCat(dir, "/", Id(i), "_rev.sql"));
    out << "-- revision: " << Id(i) << "\n-- down_revision: " << down << "\n";
    if (!deps.empty()) out << "-- depends_on: " << deps << "\n";
    out << "-- message: revision " << i << "\n\n-- migrate:upgrade\nSELECT " << i
        << ";\n\n-- migrate:downgrade\nSELECT " << i << ";\n";
  };
  for (int i = 0; i < n; ++i) {
    std::string down, deps;
    switch (shape) {
      case kChain:
        down = i == 0 ? "" : Id(i - 1);
        break;
      case kDiamonds:  // a -> (b1, b2) -> merge -> ...: period 3
        if (i == 0) {
          down = "";
        } else if (i % 3 == 1 || i % 3 == 2) {
          down = Id(i - (i % 3));
        } else {
          down = absl::StrCat(Id(i - 2), ", ", Id(i - 1));
        }
        break;
      case kBranchy: {  // 8 parallel branches, merged every 64 revisions, with dependencies
        const int width = 8, period = 64;
        int block = i / period, pos = i % period;
        if (i == 0) {
          down = "";
        } else if (pos == 0) {  // merge the previous block's branch tips
          std::vector<std::string> tips;
          for (int b = 0; b < width; ++b) {
            int tip = (block - 1) * period + period - width + b;
            if (tip > 0) tips.push_back(Id(tip));
          }
          down = absl::StrJoin(tips, ", ");
        } else if (pos <= width) {
          down = Id(block * period);  // each branch starts at the merge
        } else {
          down = Id(i - width);
          if (pos % 16 == 0 && pos > width + 1) deps = Id(i - width - 1);
        }
        break;
      }
    }
    write(i, down, deps);
  }
  (*cache)[key] = dir;
  return dir;
}

void BM_LoadAndPlan(benchmark::State& state) {
  Shape shape = static_cast<Shape>(state.range(0));
  int n = static_cast<int>(state.range(1));
  std::string dir = Generate(shape, n);
  for (auto _ : state) {
    auto graph = LoadRevisionGraph(DefaultFileSystem(), dir);
    if (!graph.ok()) {
      state.SkipWithError(std::string(graph.status().message()).c_str());
      return;
    }
    auto plan = (*graph)->PlanUpgrade({}, "heads");
    auto prefix = (*graph)->ResolveOne(Id(n / 2).substr(0, 10));
    if (!plan.ok() || !prefix.ok() || plan->steps.size() != static_cast<size_t>(n)) {
      state.SkipWithError("planning failed");
      return;
    }
    benchmark::DoNotOptimize(plan->steps.data());
  }
  state.SetLabel(shape == kChain ? "chain" : shape == kDiamonds ? "diamonds" : "branchy");
  state.SetComplexityN(n);
}

void BM_PlanOnly(benchmark::State& state) {
  Shape shape = static_cast<Shape>(state.range(0));
  int n = static_cast<int>(state.range(1));
  auto graph = LoadRevisionGraph(DefaultFileSystem(), Generate(shape, n));
  if (!graph.ok()) {
    state.SkipWithError("load failed");
    return;
  }
  for (auto _ : state) {
    auto plan = (*graph)->PlanUpgrade({}, "heads");
    benchmark::DoNotOptimize(plan->steps.data());
  }
  state.SetLabel(shape == kChain ? "chain" : shape == kDiamonds ? "diamonds" : "branchy");
}

void Args(benchmark::internal::Benchmark* b) {
  for (int shape : {kChain, kDiamonds, kBranchy}) {
    for (int n : {1000, 10000, 100000}) b->Args({shape, n});
  }
  b->Unit(benchmark::kMillisecond);
}

BENCHMARK(BM_LoadAndPlan)->Apply(Args);
BENCHMARK(BM_PlanOnly)->Apply(Args);

}  // namespace

BENCHMARK_MAIN();
