#include "routing/redis_node.h"

#include <algorithm>
#include <utility>

namespace switchboard::routing {

namespace {

std::string_view ReplyText(const redisReply* reply) {
  if (reply == nullptr || reply->str == nullptr) return {};
  return std::string_view(reply->str, reply->len);
}

// The value of `field` in an INFO reply ("field:value" lines), or empty.
std::string_view InfoField(std::string_view info, std::string_view field) {
  for (size_t at = 0; at < info.size();) {
    const size_t end = std::min(info.find("\r\n", at), info.size());
    const std::string_view line = info.substr(at, end - at);
    if (line.size() > field.size() && line.starts_with(field) && line[field.size()] == ':') {
      return line.substr(field.size() + 1);
    }
    at = end + 2;
  }
  return {};
}

}  // namespace

RedisNode::RedisNode(uv_loop_t* loop, RedisAddress address, std::vector<std::string> scripts,
                     std::string subscribe_verb, Events events)
    : address_(std::move(address)),
      subscribe_verb_(std::move(subscribe_verb)),
      events_(std::move(events)),
      commands_(loop, address_, "commands",
                {[this] { OnConnected(); }, [this](std::string_view why) { Lost(why); }}),
      subscriber_(loop, address_, "subscriber",
                  {[this] { OnConnected(); }, [this](std::string_view why) { Lost(why); }}),
      scripts_(&commands_, std::move(scripts),
               {.refused =
                    [this](std::string_view error) {
                      if (events_.refused) events_.refused(error);
                    },
                .reloading =
                    [this](std::string_view error) {
                      if (events_.reloading) events_.reloading(error);
                    },
                .reload_failed =
                    [this](std::string_view error) {
                      Lost(std::string("SCRIPT LOAD failed: ") + std::string(error));
                    }}) {}

void RedisNode::Connect(std::vector<std::string> channels) {
  channels_ = std::move(channels);
  confirmed_ = 0;
  info_read_ = false;
  loading_ = false;
  ready_ = false;
  lost_ = false;
  commands_.Connect();
  subscriber_.Connect();
}

void RedisNode::OnConnected() {
  if (!commands_.connected() || !subscriber_.connected()) return;  // wait for the other one
  commands_.Command({"INFO"}, [this](redisReply* reply) { OnInfo(reply); });
  auto on_push = [this](std::string_view kind, std::string_view channel, std::string_view payload) {
    OnPush(kind, channel, payload);
  };
  if (subscribe_verb_ == "SSUBSCRIBE") {
    for (const std::string& channel : channels_) {
      subscriber_.Subscribe(subscribe_verb_, {channel}, on_push);
    }
  } else if (!channels_.empty()) {
    subscriber_.Subscribe(subscribe_verb_, channels_, on_push);
  }
}

// Its run_id tells the link whether the server restarted while the link was down, and
// cluster_enabled whether it is the kind of server the pod was told to expect. Both are known
// before the node is ready.
void RedisNode::OnInfo(redisReply* reply) {
  if (reply == nullptr) return;  // lost: reported already
  if (reply->type != REDIS_REPLY_STRING) {
    Lost("INFO failed: " + std::string(ReplyText(reply)));
    return;
  }
  run_id_ = std::string(InfoField(ReplyText(reply), "run_id"));
  cluster_enabled_ = InfoField(ReplyText(reply), "cluster_enabled") == "1";
  info_read_ = true;
  LoadScriptsOnceSubscribed();
}

void RedisNode::LoadScriptsOnceSubscribed() {
  if (!info_read_ || confirmed_ < channels_.size() || loading_ || lost_) return;
  loading_ = true;
  scripts_.Load([this](std::string_view error) {
    if (lost_) return;
    if (!error.empty()) {
      Lost(std::string("SCRIPT LOAD failed: ") + std::string(error));
      return;
    }
    ready_ = true;
    if (events_.ready) events_.ready();
  });
}

void RedisNode::OnPush(std::string_view kind, std::string_view channel, std::string_view payload) {
  if (kind == "message" || kind == "smessage") {
    if (events_.message) events_.message(payload);
    return;
  }
  if (kind == "subscribe" || kind == "ssubscribe") {
    ++confirmed_;
    LoadScriptsOnceSubscribed();
    return;
  }
  if ((kind == "unsubscribe" || kind == "sunsubscribe") && events_.unsubscribed) {
    events_.unsubscribed(channel);
  }
}

// The link hears of it before any caller hears of a failed command: a caller that reacts by
// sending something else must find the link down, not a node about to drop it.
void RedisNode::Lost(std::string_view why) {
  if (lost_) return;
  lost_ = true;
  ready_ = false;
  const std::string reason(why);  // `why` may point into a connection that is going
  if (events_.lost) events_.lost(reason);
  scripts_.FailHeld();
  commands_.Drop();
  subscriber_.Drop();
}

void RedisNode::Drop() {
  lost_ = true;
  ready_ = false;
  scripts_.FailHeld();
  commands_.Drop();
  subscriber_.Drop();
}

void RedisNode::Quit() {
  lost_ = true;
  ready_ = false;
  scripts_.Close();
  commands_.Quit();
  subscriber_.Drop();
}

bool RedisNode::Command(const std::vector<std::string_view>& args,
                        RedisConnection::ReplyCallback done) {
  return commands_.Command(args, std::move(done));
}

void RedisNode::RunScript(int script, const std::vector<std::string_view>& keys,
                          const std::vector<std::string_view>& args,
                          RedisConnection::ReplyCallback done) {
  scripts_.Run(script, keys, args, std::move(done));
}

}  // namespace switchboard::routing
