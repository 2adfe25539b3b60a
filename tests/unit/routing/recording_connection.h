// A PeerConnection test double shared by the routing tests: it records everything routing does
// to it, both as a line in a log shared by every connection of a test (so that tests can check
// the order across connections and Register callbacks) and in per-connection lists.
#pragma once

#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "routing/peer_connection.h"
#include "routing/registry.h"

namespace switchboard::routing {

using Log = std::vector<std::string>;

inline std::string ResultName(RegisterResult result) {
  switch (result) {
    case RegisterResult::kRegistered:
      return "registered";
    case RegisterResult::kTookOver:
      return "took-over";
    case RegisterResult::kIdTaken:
      return "id-taken";
    case RegisterResult::kUnavailable:
      return "unavailable";
  }
  return "?";
}

inline std::string ReasonName(Undeliverable reason) {
  switch (reason) {
    case Undeliverable::kPeerUnavailable:
      return "peer-unavailable";
    case Undeliverable::kUnavailable:
      return "unavailable";
  }
  return "?";
}

// How gtest prints them in failure messages.
inline void PrintTo(RegisterResult result, std::ostream* out) { *out << ResultName(result); }
inline void PrintTo(Undeliverable reason, std::ostream* out) { *out << ReasonName(reason); }

class RecordingConnection : public PeerConnection {
 public:
  // Log lines: "<name> got <body>", "<name> notice <target> <reason> ref=<ref>",
  // "<name> close <code> <reason>".
  RecordingConnection(std::string name, Log* log) : name_(std::move(name)), log_(log) {}

  void Deliver(RoutedFrame frame, const FrameOrigin& /*origin*/) override {
    frames_.emplace_back(frame.frame.body());
    log_->push_back(name_ + " got " + frames_.back());
  }
  void NotifyUndeliverable(std::string_view target, Undeliverable reason,
                           std::string_view ref) override {
    notices_.push_back(std::string(target) + " " + ReasonName(reason) + " ref=" + std::string(ref));
    log_->push_back(name_ + " notice " + notices_.back());
  }
  void Evict(Eviction why) override {
    evictions_.push_back(why == Eviction::kReplaced ? "replaced" : "id-taken");
    log_->push_back(name_ + " evicted " + evictions_.back());
  }

  const std::string& name() const { return name_; }
  // Bodies of the frames delivered, in order.
  const std::vector<std::string>& frames() const { return frames_; }
  // "<target> <reason> ref=<ref>", in order.
  const std::vector<std::string>& notices() const { return notices_; }
  // "replaced" or "id-taken", in order.
  const std::vector<std::string>& evictions() const { return evictions_; }

 private:
  std::string name_;
  Log* log_;
  std::vector<std::string> frames_;
  std::vector<std::string> notices_;
  std::vector<std::string> evictions_;
};

}  // namespace switchboard::routing
