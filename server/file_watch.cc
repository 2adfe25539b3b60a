#include "server/file_watch.h"

#include <fstream>
#include <sstream>

namespace switchboard::server {

std::optional<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return std::nullopt;
  std::ostringstream contents;
  contents << file.rdbuf();
  if (file.bad()) return std::nullopt;
  return contents.str();
}

bool FileWatch::State::operator==(const State& other) const {
  return exists == other.exists && device == other.device && inode == other.inode &&
         size == other.size && modified.tv_sec == other.modified.tv_sec &&
         modified.tv_nsec == other.modified.tv_nsec;
}

FileWatch::State FileWatch::StateOf(const std::string& path) {
  struct stat info {};
  State state;
  if (stat(path.c_str(), &info) != 0) return state;
  state.exists = true;
  state.device = info.st_dev;
  state.inode = info.st_ino;
  state.size = info.st_size;
  state.modified = info.st_mtim;
  return state;
}

void FileWatch::Note() {
  states_.clear();
  for (const std::string& path : paths_) states_.push_back(StateOf(path));
}

bool FileWatch::Changed() const {
  for (size_t i = 0; i < paths_.size(); ++i) {
    if (!(StateOf(paths_[i]) == states_[i])) return true;
  }
  return false;
}

}  // namespace switchboard::server
