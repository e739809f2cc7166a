#pragma once

// ClickHouseSpool: batches ClickHouse did not take, kept on disk until it does. A folder (by
// default next to the SQLite database: "<db>.clickhouse-spool/") of segment files, one per batch,
// named "<sequence>-<oldest row's time in ms>-<rows>.jsonl" and holding the batch's JSONEachRow
// lines. A segment is written to a temporary name, fsynced and renamed, so a crash leaves whole
// segments only (leftover temporaries are removed on Open). Segments are drained oldest first and
// deleted once ClickHouse has taken them; a crash between the insert and the delete sends the
// segment again, which the ReplacingMergeTree collapses.
//
// Bounded: Put refuses a segment that would take the folder above `max_bytes` (kUnavailable);
// the caller counts those rows as dropped (they stay in SQLite).
//
// Journal: rows not yet sent nor spooled (the sink's memory buffer) are also appended, without
// fsync, to "journal-<n>.pending" (OpenJournal/AppendJournal); the sink drops a journal file once
// every row in it was sent or spooled. A process that dies leaves its journals behind, and Open
// turns each into a segment, so a crash loses no row that reached the sink (rows of a journal
// that were already sent are sent again and collapsed by item id). Like SQLite's
// synchronous=NORMAL, this survives a crash of the process, not a power loss.
// Thread-safety: every method may be called from any thread (one internal mutex).

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/mutex.h"
#include "common/result.h"

namespace pharos {

class ClickHouseSpool {
 public:
  struct Segment {
    uint64_t sequence = 0;
    std::chrono::system_clock::time_point oldest{};
    size_t rows = 0;
    std::string body;  // the JSONEachRow lines
  };

  // Creates the folder if missing and indexes the segments already in it.
  static Result<std::unique_ptr<ClickHouseSpool>> Open(const std::filesystem::path& folder,
                                                       uint64_t max_bytes);
  ~ClickHouseSpool();
  ClickHouseSpool(const ClickHouseSpool&) = delete;
  ClickHouseSpool& operator=(const ClickHouseSpool&) = delete;

  // Writes one segment durably. kUnavailable when it does not fit in max_bytes, kFailed on an
  // I/O error.
  Status Put(std::string_view body, size_t rows, std::chrono::system_clock::time_point oldest);
  // The oldest segment with its content, nullopt when the spool is empty. An unreadable segment
  // is an error naming its file.
  Result<std::optional<Segment>> Oldest();
  // Deletes a drained segment.
  Status Remove(uint64_t sequence);

  // Starts a new journal file holding `rows` (complete JSONEachRow lines); later AppendJournal
  // calls go to it. Returns its number.
  Result<uint64_t> OpenJournal(std::string_view rows);
  // Appends complete lines to the current journal.
  Status AppendJournal(std::string_view rows);
  // Deletes a journal whose rows were all sent or spooled (the current one too, at shutdown).
  void DropJournal(uint64_t journal);

  uint64_t bytes() const;
  size_t segments() const;
  size_t rows() const;
  // Time of the oldest spooled row; nullopt when empty.
  std::optional<std::chrono::system_clock::time_point> oldest_time() const;
  const std::filesystem::path& folder() const { return folder_; }

 private:
  struct Entry {
    std::filesystem::path path;
    std::chrono::system_clock::time_point oldest{};
    size_t rows = 0;
    uint64_t bytes = 0;
  };

  ClickHouseSpool(std::filesystem::path folder, uint64_t max_bytes)
      : folder_(std::move(folder)), max_bytes_(max_bytes) {}
  std::filesystem::path JournalPath(uint64_t journal) const;
  // Turns journals left by an earlier process into segments.
  Status RecoverJournals(const std::vector<std::filesystem::path>& journals);

  const std::filesystem::path folder_;
  const uint64_t max_bytes_;
  mutable Mutex mutex_;
  std::map<uint64_t, Entry> entries_ GUARDED_BY(mutex_);  // by sequence
  uint64_t bytes_ GUARDED_BY(mutex_) = 0;
  size_t rows_ GUARDED_BY(mutex_) = 0;
  uint64_t next_sequence_ GUARDED_BY(mutex_) = 1;
  uint64_t next_journal_ GUARDED_BY(mutex_) = 1;
  int journal_fd_ GUARDED_BY(mutex_) = -1;  // the current journal
  uint64_t journal_ GUARDED_BY(mutex_) = 0;
};

}  // namespace pharos
