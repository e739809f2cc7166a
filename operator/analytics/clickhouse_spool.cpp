#include "operator/analytics/clickhouse_spool.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>
#include <system_error>
#include <vector>

namespace pharos {
namespace {

constexpr std::string_view kSuffix = ".jsonl";
constexpr std::string_view kTemporarySuffix = ".tmp";
constexpr std::string_view kJournalPrefix = "journal-";
constexpr std::string_view kJournalSuffix = ".pending";

// "<sequence>-<oldest ms>-<rows>.jsonl" → its three numbers.
bool ParseName(const std::string& name, uint64_t& sequence, int64_t& oldest_ms, size_t& rows) {
  if (name.size() <= kSuffix.size() ||
      name.compare(name.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0) {
    return false;
  }
  const std::string stem = name.substr(0, name.size() - kSuffix.size());
  const size_t first = stem.find('-');
  const size_t second = first == std::string::npos ? first : stem.find('-', first + 1);
  if (second == std::string::npos) {
    return false;
  }
  auto number = [](std::string_view text, auto& out) {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && end == text.data() + text.size() && !text.empty();
  };
  return number(std::string_view(stem).substr(0, first), sequence) &&
         number(std::string_view(stem).substr(first + 1, second - first - 1), oldest_ms) &&
         number(std::string_view(stem).substr(second + 1), rows);
}

std::string Errno(const std::string& what, const std::filesystem::path& path) {
  return what + " " + path.string() + ": " + std::strerror(errno);
}

Status WriteAll(int fd, std::string_view data, const std::filesystem::path& path) {
  size_t written = 0;
  while (written < data.size()) {
    const ssize_t n = ::write(fd, data.data() + written, data.size() - written);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return Error{Errno("cannot write", path)};
    }
    written += static_cast<size_t>(n);
  }
  return OkStatus();
}

Status WriteDurably(const std::filesystem::path& temporary, const std::filesystem::path& target,
                    std::string_view body) {
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Error{Errno("cannot create", temporary)};
  }
  size_t written = 0;
  while (written < body.size()) {
    const ssize_t n = ::write(fd, body.data() + written, body.size() - written);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      const std::string error = Errno("cannot write", temporary);
      ::close(fd);
      ::unlink(temporary.c_str());
      return Error{error};
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const std::string error = Errno("cannot fsync", temporary);
    ::close(fd);
    ::unlink(temporary.c_str());
    return Error{error};
  }
  ::close(fd);
  if (::rename(temporary.c_str(), target.c_str()) != 0) {
    const std::string error = Errno("cannot rename", temporary);
    ::unlink(temporary.c_str());
    return Error{error};
  }
  return OkStatus();
}

}  // namespace

Result<std::unique_ptr<ClickHouseSpool>> ClickHouseSpool::Open(const std::filesystem::path& folder,
                                                               uint64_t max_bytes) {
  std::error_code ec;
  std::filesystem::create_directories(folder, ec);
  if (ec) {
    return Error{"cannot create the ClickHouse spool folder " + folder.string() + ": " +
                 ec.message()};
  }
  std::unique_ptr<ClickHouseSpool> spool(new ClickHouseSpool(folder, max_bytes));
  std::vector<std::filesystem::path> journals;
  for (const auto& file : std::filesystem::directory_iterator(folder, ec)) {
    const std::string name = file.path().filename().string();
    if (name.rfind(kJournalPrefix, 0) == 0 && name.size() > kJournalSuffix.size() &&
        name.compare(name.size() - kJournalSuffix.size(), kJournalSuffix.size(), kJournalSuffix) ==
            0) {
      journals.push_back(file.path());
      continue;
    }
    if (name.size() > kTemporarySuffix.size() &&
        name.compare(name.size() - kTemporarySuffix.size(), kTemporarySuffix.size(),
                     kTemporarySuffix) == 0) {
      std::filesystem::remove(file.path(), ec);  // a Put cut short by a crash
      continue;
    }
    uint64_t sequence = 0;
    int64_t oldest_ms = 0;
    size_t rows = 0;
    if (!file.is_regular_file() || !ParseName(name, sequence, oldest_ms, rows)) {
      continue;
    }
    const uint64_t size = file.file_size(ec);
    MutexLock lock(spool->mutex_);  // not shared yet; the analysis wants the lock all the same
    spool->entries_[sequence] = Entry{
        file.path(), std::chrono::system_clock::time_point(std::chrono::milliseconds(oldest_ms)),
        rows, size};
    spool->bytes_ += size;
    spool->rows_ += rows;
    spool->next_sequence_ = std::max(spool->next_sequence_, sequence + 1);
  }
  if (ec) {
    return Error{"cannot read the ClickHouse spool folder " + folder.string() + ": " +
                 ec.message()};
  }
  if (Status recovered = spool->RecoverJournals(journals); !recovered) {
    return Error{recovered.error()};
  }
  return spool;
}

ClickHouseSpool::~ClickHouseSpool() {
  if (journal_fd_ >= 0) {
    ::close(journal_fd_);
  }
}

std::filesystem::path ClickHouseSpool::JournalPath(uint64_t journal) const {
  return folder_ /
         (std::string(kJournalPrefix) + std::to_string(journal) + std::string(kJournalSuffix));
}

Status ClickHouseSpool::RecoverJournals(const std::vector<std::filesystem::path>& journals) {
  for (const std::filesystem::path& path : journals) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      return Error{Errno("cannot open the spool journal", path)};
    }
    std::ostringstream content;
    content << in.rdbuf();
    std::string rows = std::move(content).str();
    // A line cut by the crash is not a row.
    rows.resize(rows.rfind('\n') == std::string::npos ? 0 : rows.rfind('\n') + 1);
    const size_t count = static_cast<size_t>(std::count(rows.begin(), rows.end(), '\n'));
    struct stat info {};
    std::chrono::system_clock::time_point modified{};
    if (::stat(path.c_str(), &info) == 0) {
      modified = std::chrono::system_clock::time_point(std::chrono::seconds(info.st_mtim.tv_sec));
    }
    if (count > 0) {
      if (Status put = Put(rows, count, modified); !put) {
        return Error{"cannot keep the rows of the spool journal " + path.string() + ": " +
                     put.error()};
      }
    }
    std::error_code ec;
    std::filesystem::remove(path, ec);
  }
  return OkStatus();
}

Result<uint64_t> ClickHouseSpool::OpenJournal(std::string_view rows) {
  MutexLock lock(mutex_);
  const uint64_t journal = next_journal_++;
  const std::filesystem::path path = JournalPath(journal);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Error{Errno("cannot create the spool journal", path)};
  }
  if (journal_fd_ >= 0) {
    ::close(journal_fd_);
  }
  journal_fd_ = fd;
  journal_ = journal;
  if (Status written = WriteAll(fd, rows, path); !written) {
    return Error{written.error()};
  }
  return journal;
}

Status ClickHouseSpool::AppendJournal(std::string_view rows) {
  MutexLock lock(mutex_);
  if (journal_fd_ < 0) {
    return Error{"no spool journal open"};
  }
  return WriteAll(journal_fd_, rows, JournalPath(journal_));
}

void ClickHouseSpool::DropJournal(uint64_t journal) {
  MutexLock lock(mutex_);
  if (journal == journal_ && journal_fd_ >= 0) {
    ::close(journal_fd_);
    journal_fd_ = -1;
  }
  ::unlink(JournalPath(journal).c_str());
}

Status ClickHouseSpool::Put(std::string_view body, size_t rows,
                            std::chrono::system_clock::time_point oldest) {
  MutexLock lock(mutex_);
  if (bytes_ + body.size() > max_bytes_) {
    return Error{"the ClickHouse spool " + folder_.string() + " is full (" +
                     std::to_string(bytes_) + " of " + std::to_string(max_bytes_) + " bytes)",
                 ErrorKind::kUnavailable};
  }
  const uint64_t sequence = next_sequence_++;
  const int64_t oldest_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(oldest.time_since_epoch()).count();
  char name[96];
  std::snprintf(name, sizeof(name), "%012llu-%lld-%zu", static_cast<unsigned long long>(sequence),
                static_cast<long long>(oldest_ms), rows);
  const std::filesystem::path target = folder_ / (std::string(name) + std::string(kSuffix));
  const std::filesystem::path temporary =
      folder_ / (std::string(name) + std::string(kTemporarySuffix));
  if (Status written = WriteDurably(temporary, target, body); !written) {
    return written;
  }
  entries_[sequence] = Entry{target, oldest, rows, body.size()};
  bytes_ += body.size();
  rows_ += rows;
  return OkStatus();
}

Result<std::optional<ClickHouseSpool::Segment>> ClickHouseSpool::Oldest() {
  std::filesystem::path path;
  Segment segment;
  {
    MutexLock lock(mutex_);
    if (entries_.empty()) {
      return std::optional<Segment>();
    }
    const auto& [sequence, entry] = *entries_.begin();
    path = entry.path;
    segment.sequence = sequence;
    segment.oldest = entry.oldest;
    segment.rows = entry.rows;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Error{Errno("cannot open the spooled batch", path)};
  }
  std::ostringstream content;
  content << in.rdbuf();
  segment.body = std::move(content).str();
  return std::optional<Segment>(std::move(segment));
}

Status ClickHouseSpool::Remove(uint64_t sequence) {
  MutexLock lock(mutex_);
  auto found = entries_.find(sequence);
  if (found == entries_.end()) {
    return OkStatus();
  }
  std::error_code ec;
  std::filesystem::remove(found->second.path, ec);
  if (ec) {
    return Error{"cannot delete the drained batch " + found->second.path.string() + ": " +
                 ec.message()};
  }
  bytes_ -= found->second.bytes;
  rows_ -= found->second.rows;
  entries_.erase(found);
  return OkStatus();
}

uint64_t ClickHouseSpool::bytes() const {
  MutexLock lock(mutex_);
  return bytes_;
}

size_t ClickHouseSpool::segments() const {
  MutexLock lock(mutex_);
  return entries_.size();
}

size_t ClickHouseSpool::rows() const {
  MutexLock lock(mutex_);
  return rows_;
}

std::optional<std::chrono::system_clock::time_point> ClickHouseSpool::oldest_time() const {
  MutexLock lock(mutex_);
  std::optional<std::chrono::system_clock::time_point> oldest;
  for (const auto& [sequence, entry] : entries_) {
    if (!oldest || entry.oldest < *oldest) {
      oldest = entry.oldest;
    }
  }
  return oldest;
}

}  // namespace pharos
