#include "server/file_watch.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace switchboard::server {
namespace {

namespace fs = std::filesystem;

class FileWatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/file-watch-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    const fs::path path = dir_ / name;
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
    return path.string();
  }

  fs::path dir_;
};

TEST_F(FileWatchTest, UnchangedFilesAreNotChanged) {
  FileWatch watch({Write("a", "one"), Write("b", "two")});
  EXPECT_FALSE(watch.Changed());
}

TEST_F(FileWatchTest, ARewriteOfAnyFileIsAChangeUntilNoted) {
  const std::string a = Write("a", "one");
  FileWatch watch({a, Write("b", "two")});
  Write("b", "three, longer");
  EXPECT_TRUE(watch.Changed());
  watch.Note();
  EXPECT_FALSE(watch.Changed());
}

// A Secret's update: the path is a link into ..data, which is swapped for a new directory.
TEST_F(FileWatchTest, ASwappedSymlinkIsAChangeEvenWithTheSameSizeAndTime) {
  fs::create_directory(dir_ / "v1");
  fs::create_directory(dir_ / "v2");
  Write("v1/key", "same");
  Write("v2/key", "same");
  fs::last_write_time(dir_ / "v2/key", fs::last_write_time(dir_ / "v1/key"));
  fs::create_directory_symlink("v1", dir_ / "..data");
  fs::create_symlink("..data/key", dir_ / "key");
  FileWatch watch({(dir_ / "key").string()});
  fs::create_directory_symlink("v2", dir_ / "..data_tmp");
  fs::rename(dir_ / "..data_tmp", dir_ / "..data");
  EXPECT_TRUE(watch.Changed()) << "another inode behind the same path";
}

TEST_F(FileWatchTest, AFileThatGoesOrComesIsAChange) {
  const std::string a = Write("a", "one");
  FileWatch watch({a, (dir_ / "later").string()});
  Write("later", "here now");
  EXPECT_TRUE(watch.Changed());
  watch.Note();
  fs::remove(a);
  EXPECT_TRUE(watch.Changed());
}

}  // namespace
}  // namespace switchboard::server
