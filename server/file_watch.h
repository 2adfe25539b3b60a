// Whether files have changed since they were last read, for the ones reloaded while the server
// runs (the TLS pair, the token key).
//
// Kubernetes updates a mounted Secret or ConfigMap by swapping a symlink to a new directory, so a
// file's inode changes while its path stays: inotify on the path would miss it, and mtime alone
// can repeat. A stat() of each path (following links) once a second, compared on device, inode,
// size and modification time, sees every way a file is replaced, for two system calls.
#pragma once

#include <sys/stat.h>

#include <optional>
#include <string>
#include <vector>

namespace switchboard::server {

// The whole of the file at `path`, or nullopt when it cannot be read. A reloaded file is read once
// and parsed from these bytes, so that a replacement made meanwhile is not mixed in.
std::optional<std::string> ReadWholeFile(const std::string& path);

class FileWatch {
 public:
  explicit FileWatch(std::vector<std::string> paths) : paths_(std::move(paths)) { Note(); }

  // Remembers the files as they are now: call it just before reading them, so that a change made
  // while they are read is seen as one at the next look.
  void Note();

  // Whether any file differs from when Note() was last called, or has appeared or gone since.
  bool Changed() const;

 private:
  struct State {
    bool exists = false;
    dev_t device = 0;
    ino_t inode = 0;
    off_t size = 0;
    timespec modified{};
    bool operator==(const State& other) const;
  };
  static State StateOf(const std::string& path);

  std::vector<std::string> paths_;
  std::vector<State> states_;
};

}  // namespace switchboard::server
