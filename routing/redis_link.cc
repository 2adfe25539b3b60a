#include "routing/redis_link.h"

#include <random>
#include <utility>

namespace switchboard::routing {

namespace {

std::string_view ReplyText(const redisReply* reply) {
  if (reply == nullptr || reply->str == nullptr) return {};
  return std::string_view(reply->str, reply->len);
}

double RandomUnit() {
  std::random_device device;
  return std::uniform_real_distribution<double>(0.0, 1.0)(device);
}

// The run_id line of INFO server, or empty.
std::string RunIdOf(std::string_view info) {
  const size_t at = info.find("run_id:");
  if (at == std::string_view::npos) return {};
  const std::string_view rest = info.substr(at + 7);
  return std::string(rest.substr(0, rest.find_first_of("\r\n")));
}

}  // namespace

RedisLink::RedisLink(uv_loop_t* loop, Options options, Events events)
    : loop_(loop),
      options_(std::move(options)),
      events_(std::move(events)),
      commands_(loop, options_.address, "commands",
                {[this] { OnConnected(); }, [this](std::string_view why) { OnLost(why); }}),
      subscriber_(loop, options_.address, "subscriber",
                  {[this] { OnConnected(); }, [this](std::string_view why) { OnLost(why); }}),
      scripts_(&commands_, options_.scripts,
               {.refused = [this](std::string_view error) { NoteRefusal("a script", error); },
                .reloading =
                    [this](std::string_view error) {
                      if (events_.log) {
                        events_.log(true, "redis lost its scripts; loading them again", error);
                      }
                    },
                .reload_failed =
                    [this](std::string_view error) {
                      OnLost(std::string("SCRIPT LOAD failed: ") + std::string(error));
                    }}),
      backoff_(std::chrono::milliseconds(100), std::chrono::milliseconds(5000)) {
  uv_timer_init(loop_, &reconnect_timer_);
  reconnect_timer_.data = this;
  uv_timer_init(loop_, &heartbeat_timer_);
  heartbeat_timer_.data = this;
}

RedisLink::~RedisLink() { Close(); }

void RedisLink::Start() {
  auto on_heartbeat = [](uv_timer_t* timer) { static_cast<RedisLink*>(timer->data)->Heartbeat(); };
  const auto period = static_cast<uint64_t>(options_.heartbeat.count());
  uv_timer_start(&heartbeat_timer_, on_heartbeat, period, period);
  Connect();
}

void RedisLink::Connect() {
  commands_.Connect();
  subscriber_.Connect();
}

void RedisLink::OnConnected() {
  if (!commands_.connected() || !subscriber_.connected()) return;  // wait for the other one
  // Its run_id tells whether Redis restarted while the link was down; the reply comes before
  // the scripts are loaded, so before OnUp().
  commands_.Command({"INFO", "server"}, [this](redisReply* reply) {
    if (reply == nullptr || reply->type != REDIS_REPLY_STRING) return;
    std::string run_id = RunIdOf(ReplyText(reply));
    if (run_id.empty()) return;
    if (!run_id_.empty() && run_id != run_id_) restarted_ = true;
    run_id_ = std::move(run_id);
  });
  subscriber_.Subscribe(options_.channel, [this](redisReply* reply) {
    if (closing_ || reply == nullptr || reply->type != REDIS_REPLY_ARRAY || reply->elements < 3) {
      return;
    }
    const std::string_view kind = ReplyText(reply->element[0]);
    if (kind == "subscribe") {
      scripts_.Load([this](std::string_view error) {
        if (!error.empty()) {
          OnLost(std::string("SCRIPT LOAD failed: ") + std::string(error));
        } else if (!up_) {
          OnUp();
        }
      });
    } else if (kind == "message" && events_.message) {
      events_.message(ReplyText(reply->element[2]));
    }
  });
}

void RedisLink::OnUp() {
  up_ = true;
  last_failure_.clear();
  backoff_.Reset();
  if (events_.log) {
    events_.log(false, "redis up",
                options_.address.host + ":" + std::to_string(options_.address.port));
  }
  Heartbeat();
  const bool restarted = restarted_;
  restarted_ = false;
  if (events_.up) events_.up(restarted);
}

void RedisLink::OnLost(std::string_view why) {
  if (closing_) return;
  const bool was_up = up_;
  up_ = false;
  heartbeat_sent_at_.reset();
  scripts_.FailHeld();
  // The two connections are one link: drop the other too, so both come back together and the
  // subscription is never missing while commands flow.
  commands_.Drop();
  subscriber_.Drop();
  if (was_up) {
    ++reconnects_;
    if (events_.log) events_.log(true, "redis lost", why);
  } else if (why != last_failure_ && events_.log) {
    // Once per cause, not per retry: a wrong password or host must show in the logs without
    // flooding them while it lasts.
    events_.log(true, "redis unreachable", why);
  }
  last_failure_ = std::string(why);
  ScheduleReconnect();
}

void RedisLink::ScheduleReconnect() {
  if (closing_ || uv_is_active(reinterpret_cast<uv_handle_t*>(&reconnect_timer_))) return;
  const auto delay = backoff_.Next(RandomUnit());
  uv_timer_start(
      &reconnect_timer_, [](uv_timer_t* timer) { static_cast<RedisLink*>(timer->data)->Connect(); },
      static_cast<uint64_t>(delay.count()), 0);
}

void RedisLink::Heartbeat() {
  if (!up_) return;
  const auto now = Clock::now();
  if (heartbeat_sent_at_ && now - *heartbeat_sent_at_ > options_.alive_ttl) {
    OnLost("no reply from Redis within the liveness TTL");
    return;
  }
  if (!heartbeat_sent_at_) {
    heartbeat_sent_at_ = now;
    commands_.Command(
        {"SET", options_.liveness_key, "1", "PX", std::to_string(options_.alive_ttl.count())},
        [this](redisReply* reply) { OnHeartbeatReply(reply); });
  }
  if (events_.heartbeat) events_.heartbeat();
}

// The key may have lapsed if Redis refused to set it, or if more than its TTL passed between two
// accepted sets (this pod was frozen or starved: its timers did not run).
void RedisLink::OnHeartbeatReply(redisReply* reply) {
  if (closing_ || reply == nullptr || !heartbeat_sent_at_) return;  // lost: OnUp() follows
  const Clock::time_point sent_at = *heartbeat_sent_at_;
  heartbeat_sent_at_.reset();
  if (reply->type == REDIS_REPLY_ERROR) {
    NoteRefusal("the liveness key", ReplyText(reply));
    liveness_lapsed_ = true;
    return;
  }
  const bool lapsed =
      liveness_lapsed_ || (last_alive_at_ && sent_at - *last_alive_at_ > options_.alive_ttl);
  last_alive_at_ = sent_at;
  liveness_lapsed_ = false;
  last_refusal_.clear();
  if (events_.alive) events_.alive(lapsed);
}

// An error answer is a failure, never an answer.
void RedisLink::NoteRefusal(std::string_view what, std::string_view error) {
  ++errors_;
  std::string cause = std::string(what) + ": " + std::string(error);
  if (cause == last_refusal_) return;
  if (events_.log) events_.log(true, "redis refused a command", cause);
  last_refusal_ = std::move(cause);
}

bool RedisLink::Command(const std::vector<std::string_view>& args,
                        RedisConnection::ReplyCallback done) {
  if (!up_) return false;
  return commands_.Command(args, std::move(done));
}

void RedisLink::RunScript(int script, const std::vector<std::string_view>& keys,
                          const std::vector<std::string_view>& args,
                          RedisConnection::ReplyCallback done) {
  if (!up_) {
    if (done) done(nullptr);
    return;
  }
  scripts_.Run(script, keys, args, std::move(done));
}

void RedisLink::Close(const std::vector<std::vector<std::string>>& last_commands) {
  if (closing_) return;
  closing_ = true;
  scripts_.Close();
  if (up_) {
    for (const std::vector<std::string>& command : last_commands) {
      commands_.Command(std::vector<std::string_view>(command.begin(), command.end()), nullptr);
    }
    commands_.Command({"DEL", options_.liveness_key}, nullptr);
  }
  up_ = false;
  commands_.Quit();
  subscriber_.Drop();
  for (uv_timer_t* timer : {&reconnect_timer_, &heartbeat_timer_}) {
    if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(timer))) {
      uv_close(reinterpret_cast<uv_handle_t*>(timer), nullptr);
    }
  }
}

}  // namespace switchboard::routing
