#include "routing/script_runner.h"

#include <chrono>
#include <utility>

#include "routing/routed_frame.h"

namespace switchboard::routing {

namespace {

std::string_view ReplyText(const redisReply* reply) {
  if (reply == nullptr || reply->str == nullptr) return {};
  return std::string_view(reply->str, reply->len);
}

bool IsError(const redisReply* reply) {
  return reply != nullptr && reply->type == REDIS_REPLY_ERROR;
}

}  // namespace

ScriptRunner::ScriptRunner(RedisConnection* connection, std::vector<std::string> scripts,
                           Events events)
    : connection_(connection),
      texts_(std::move(scripts)),
      shas_(texts_.size()),
      events_(std::move(events)) {}

void ScriptRunner::Load(std::function<void(std::string_view error)> done) {
  struct Progress {
    size_t loaded = 0;
    bool failed = false;
    std::function<void(std::string_view)> done;
  };
  auto progress = std::make_shared<Progress>(Progress{0, false, std::move(done)});
  for (size_t script = 0; script < texts_.size(); ++script) {
    auto on_reply = [this, script, progress](redisReply* reply) {
      if (progress->failed || closed_) return;
      if (reply == nullptr || IsError(reply)) {
        progress->failed = true;
        if (progress->done) {
          progress->done(reply == nullptr ? std::string_view("connection lost") : ReplyText(reply));
        }
        return;
      }
      shas_[script] = std::string(ReplyText(reply));
      if (++progress->loaded == texts_.size() && progress->done) progress->done({});
    };
    if (!connection_->Command({"SCRIPT", "LOAD", texts_[script]}, on_reply)) on_reply(nullptr);
  }
}

void ScriptRunner::Run(int script, const std::vector<std::string_view>& keys,
                       const std::vector<std::string_view>& args,
                       RedisConnection::ReplyCallback done) {
  auto call = std::make_shared<Call>();
  call->command = {"EVALSHA", shas_[script], std::to_string(keys.size())};
  call->command.insert(call->command.end(), keys.begin(), keys.end());
  call->command.insert(call->command.end(), args.begin(), args.end());
  call->done = std::move(done);
  if (reloading_) {
    waiting_.push_back(std::move(call));
    return;
  }
  Send(std::move(call));
}

void ScriptRunner::Send(std::shared_ptr<Call> call) {
  const auto sent_at = Clock::now();
  ++in_flight_;
  const std::vector<std::string_view> command(call->command.begin(), call->command.end());
  const bool sent = connection_->Command(command, [this, call, sent_at](redisReply* reply) {
    --in_flight_;
    if (closed_) return;
    latency_.Observe(std::chrono::duration<double>(Clock::now() - sent_at).count());
    if (IsError(reply) && ReplyText(reply).starts_with("NOSCRIPT")) {
      if (!reloading_ && events_.reloading) events_.reloading(ReplyText(reply));
      reloading_ = true;
      failed_.push_back(call);
    } else {
      if (IsError(reply) && events_.refused) events_.refused(ReplyText(reply));
      if (call->done) call->done(reply);
    }
    if (reloading_ && in_flight_ == 0) ResendHeld();
  });
  if (!sent) {
    --in_flight_;
    if (call->done) call->done(nullptr);
  }
}

void ScriptRunner::ResendHeld() {
  reloading_ = false;
  std::deque<std::shared_ptr<Call>> calls = std::move(failed_);
  failed_.clear();
  calls.insert(calls.end(), waiting_.begin(), waiting_.end());
  waiting_.clear();
  Load([this](std::string_view error) {  // pipelined ahead of the calls below
    if (!error.empty() && events_.reload_failed) events_.reload_failed(error);
  });
  for (auto& call : calls) Send(std::move(call));
}

void ScriptRunner::FailHeld() {
  reloading_ = false;
  std::deque<std::shared_ptr<Call>> calls = std::move(failed_);
  calls.insert(calls.end(), waiting_.begin(), waiting_.end());
  failed_.clear();
  waiting_.clear();
  for (auto& call : calls) {
    if (call->done) call->done(nullptr);
  }
}

}  // namespace switchboard::routing
