#pragma once

// ResultBuffer: the check results a probe holds until the operator acknowledges them, oldest
// first, each stored once by work item id as its serialized JSON. Bounded: when it is full, Add
// drops the oldest result to make room (the caller counts and logs the loss); nothing else ever
// drops a result except Remove. Results are not taken out to be sent: Peek copies the oldest ones
// and they stay until Remove, so a failed delivery needs no undo and a result is resent until
// the operator answered for it.
// Thread-safety: all methods may be called from any thread (one internal mutex).

#include <cstddef>
#include <list>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/mutex.h"

namespace pharos {

class ResultBuffer {
 public:
  struct Entry {
    std::string item_id;
    std::string json;
    int unanswered = 0;  // deliveries the operator answered without mentioning this result
  };

  explicit ResultBuffer(size_t max_results);

  // Keeps `json` under `item_id`. A result already held for the id is kept and the new one
  // ignored (returns false): the operator stores one result per item anyway. When the buffer is
  // full the oldest result is dropped and returned in `*dropped`.
  bool Add(std::string item_id, std::string json, std::optional<Entry>* dropped);

  // Copies of the oldest results: at most `max_results`, and at most `max_bytes` of JSON in
  // total (but always at least one when the buffer is not empty).
  std::vector<Entry> Peek(size_t max_results, size_t max_bytes) const;

  // Forgets the results of these item ids (unknown ids are ignored); returns how many it held.
  size_t Remove(const std::vector<std::string>& item_ids);

  // Counts one more unanswered delivery of `item_id`; returns the new count (0 if not held).
  int MarkUnanswered(const std::string& item_id);

  size_t size() const;
  bool empty() const { return size() == 0; }
  size_t max_results() const { return max_results_; }

 private:
  const size_t max_results_;
  mutable Mutex mutex_;
  std::list<Entry> entries_ GUARDED_BY(mutex_);
  std::unordered_map<std::string, std::list<Entry>::iterator> by_id_ GUARDED_BY(mutex_);
};

}  // namespace pharos
