// binary_trees: the Benchmarks Game's binary-trees with new/delete: a long-lived
// tree, and many short-lived trees of every even depth built, walked and deleted,
// the depths shared out among the threads. Pure small-object churn through operator new.
// usage: binary_trees [maximum depth] [threads]
#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

#include "workload.hpp"

namespace {

struct Node {
  Node* left;
  Node* right;
};

Node* build(int depth) {
  if (depth == 0) return new Node{nullptr, nullptr};
  return new Node{build(depth - 1), build(depth - 1)};
}

std::uint64_t check(const Node* n) { return n->left == nullptr ? 1 : 1 + check(n->left) + check(n->right); }

void destroy(Node* n) {
  if (n->left != nullptr) {
    destroy(n->left);
    destroy(n->right);
  }
  delete n;
}

}  // namespace

int main(int argc, char** argv) {
  const workload::Args args = workload::parse_args(argc, argv, 18, 2);
  const int max_depth = std::max(6, static_cast<int>(args.size));
  std::uint64_t checksum = 0;
  {
    Node* stretch = build(max_depth + 1);
    checksum += check(stretch);
    destroy(stretch);
  }
  Node* long_lived = build(max_depth);
  std::atomic<int> next_depth{4};
  std::atomic<std::uint64_t> total{0};
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < args.threads; ++t) {
    threads.emplace_back([&] {
      for (int depth; (depth = next_depth.fetch_add(2)) <= max_depth;) {
        const std::uint64_t iterations = std::uint64_t{1} << (max_depth - depth + 4);
        std::uint64_t sum = 0;
        for (std::uint64_t i = 0; i < iterations; ++i) {
          Node* tree = build(depth);
          sum += check(tree);
          destroy(tree);
        }
        total += sum;
      }
    });
  }
  for (auto& th : threads) th.join();
  checksum += total + check(long_lived);
  destroy(long_lived);
  workload::report("binary_trees", checksum);
}
