#include "client/vigilctl_output.h"


#include <algorithm>
#include <iostream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/error_reason.h"
#include "base/json.h"
#include "client/channel.h"
#include "google/protobuf/util/json_util.h"

namespace vigil::vigilctl {
namespace {

// The plain-words explanation of a status code, for people.
absl::string_view HintFor(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kUnauthenticated:
      return "the server did not accept this home's credential (wrong or rotated token, revoked "
             "device, disabled user): connect or enroll again, or ask the admin";
    case absl::StatusCode::kPermissionDenied:
      return "this account may not do that (its role, or it is not on the visit's team)";
    case absl::StatusCode::kUnavailable:
      return "the server cannot be reached: is vigild running, and are the address, the CA "
             "certificate and --plaintext right?";
    case absl::StatusCode::kDeadlineExceeded:
      return "the server did not answer in time; try again";
    case absl::StatusCode::kResourceExhausted:
      return "the server is rate-limiting this device or the request is too large; wait and "
             "try again";
    case absl::StatusCode::kNotFound:
      return "nothing by that name";
    case absl::StatusCode::kAlreadyExists:
      return "it exists already";
    case absl::StatusCode::kInvalidArgument:
      return "the request was refused as malformed";
    case absl::StatusCode::kFailedPrecondition:
      return "not possible in the current state";
    case absl::StatusCode::kDataLoss:
      return "data failed an integrity check";
    default:
      return "";
  }
}

void PrintFailure(absl::string_view what, absl::StatusCode code, absl::string_view message,
                  absl::string_view reason) {
  std::string line = absl::StrCat("vigilctl: ", what, " failed: ", message, "\n  (",
                                  absl::StatusCodeToString(code));
  if (!reason.empty()) absl::StrAppend(&line, ", reason ", reason);
  absl::StrAppend(&line, ")");
  const absl::string_view hint = HintFor(code);
  if (!hint.empty()) absl::StrAppend(&line, " ", hint);
  std::cerr << line << "\n";
}

}  // namespace

void JsonObject::Key(absl::string_view key) {
  if (!body_.empty()) body_.push_back(',');
  AppendJsonString(body_, std::string_view(key.data(), key.size()));
  body_.push_back(':');
}

JsonObject& JsonObject::Str(absl::string_view key, absl::string_view value) {
  Key(key);
  AppendJsonString(body_, std::string_view(value.data(), value.size()));
  return *this;
}

JsonObject& JsonObject::Int(absl::string_view key, std::int64_t value) {
  Key(key);
  absl::StrAppend(&body_, value);
  return *this;
}

JsonObject& JsonObject::Uint(absl::string_view key, std::uint64_t value) {
  Key(key);
  absl::StrAppend(&body_, value);
  return *this;
}

JsonObject& JsonObject::Bool(absl::string_view key, bool value) {
  Key(key);
  body_ += value ? "true" : "false";
  return *this;
}

JsonObject& JsonObject::Raw(absl::string_view key, absl::string_view json) {
  Key(key);
  absl::StrAppend(&body_, json);
  return *this;
}

JsonObject& JsonObject::StrList(absl::string_view key, const std::vector<std::string>& values) {
  Key(key);
  body_.push_back('[');
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) body_.push_back(',');
    AppendJsonString(body_, values[i]);
  }
  body_.push_back(']');
  return *this;
}

JsonObject& JsonObject::ObjList(absl::string_view key, const std::vector<JsonObject>& values) {
  Key(key);
  body_.push_back('[');
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) body_.push_back(',');
    body_ += values[i].str();
  }
  body_.push_back(']');
  return *this;
}

JsonObject& JsonObject::Proto(absl::string_view key, const google::protobuf::Message& message) {
  return Raw(key, ProtoJson(message));
}

std::string ProtoJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string out;
  if (!google::protobuf::util::MessageToJsonString(message, &out, options).ok()) return "null";
  return out;
}

void Output::Result(const JsonObject& object, absl::string_view text) const {
  if (json_) {
    std::cout << object.str() << "\n";
  } else {
    Text(text);
  }
}

void Output::Text(absl::string_view text) const {
  if (json_ || text.empty()) return;
  std::cout << text;
  if (text.back() != '\n') std::cout << "\n";
}

int ExitCodeFor(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return kExitOk;
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kPermissionDenied:
      return kExitDenied;
    default:
      return kExitFailure;
  }
}

int Fail(absl::string_view what, const absl::Status& status) {
  PrintFailure(what, status.code(), status.message(), ReasonOf(status).value_or(""));
  return ExitCodeFor(status.code());
}

int Fail(absl::string_view what, const grpc::Status& status) {
  const auto code = static_cast<absl::StatusCode>(status.error_code());
  PrintFailure(what, code, status.error_message(), client::ErrorReason(status));
  return ExitCodeFor(code);
}

int Usage(absl::string_view message) {
  std::cerr << "vigilctl: " << message << "\n  (run vigilctl --help, or COMMAND --help)\n";
  return kExitUsage;
}

std::string ShowTime(absl::Time time) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%SZ", time, absl::UTCTimeZone());
}

std::string FormatTimestamp(const google::protobuf::Timestamp& ts) {
  if (ts.seconds() == 0 && ts.nanos() == 0) return "";
  return ShowTime(absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos()));
}

std::string TimestampRfc3339(const google::protobuf::Timestamp& ts) {
  if (ts.seconds() == 0 && ts.nanos() == 0) return "";
  return Rfc3339(absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos()));
}

std::string Rfc3339(absl::Time time) {
  return absl::FormatTime("%Y-%m-%d%ET%H:%M:%E*SZ", time, absl::UTCTimeZone());
}

std::string FormatBytes(std::uint64_t bytes) {
  if (bytes < 1024) return absl::StrCat(bytes, " B");
  const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes) / 1024;
  int unit = 0;
  while (value >= 1024 && unit < 3) {
    value /= 1024;
    ++unit;
  }
  return absl::StrFormat("%.1f %s", value, units[unit]);
}

std::string Plural(std::uint64_t n, absl::string_view one, absl::string_view many) {
  return absl::StrCat(n, " ", n == 1 ? one : many);
}

std::size_t Columns(absl::string_view text) {
  std::size_t n = 0;
  for (char c : text) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  }
  return n;
}

std::string Pad(absl::string_view text, std::size_t width) {
  const std::size_t columns = Columns(text);
  if (columns <= width) return absl::StrCat(text, std::string(width - columns, ' '));
  // Cut at a character boundary, leaving room for the ellipsis.
  std::string out;
  std::size_t taken = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const bool starts = (static_cast<unsigned char>(text[i]) & 0xC0) != 0x80;
    if (starts && ++taken > (width == 0 ? 0 : width - 1)) break;
    out.push_back(text[i]);
  }
  return width == 0 ? "" : out + "…";
}

}  // namespace vigil::vigilctl
