// Values as vigilctl shows and takes them: enum names people type, record
// bodies and conflict values as text, and the new body a resolution sends
// (a conflict version's value, or a typed-in one, put at the conflict's
// field path in the current body).
#ifndef VIGIL_CLIENT_VIGILCTL_VALUES_H_
#define VIGIL_CLIENT_VIGILCTL_VALUES_H_

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/generated_enum_reflection.h"
#include "vigil/v1/conflict.pb.h"
#include "vigil/v1/record.pb.h"

namespace vigil::vigilctl {

// Parses a value of enum `type` as people type it: the full name
// ("SEVERITY_HIGH"), the name without the enum's prefix ("high",
// "material-conditions"), or a word that begins or ends exactly one name
// ("monitor" for ROLE_FIELD_MONITOR, "medical" for ROLE_MEDICAL_EXPERT).
// Case-insensitive, '-' for '_'; never the _UNSPECIFIED value.
// InvalidArgument listing the accepted words otherwise.
absl::StatusOr<int> ParseEnum(const google::protobuf::EnumDescriptor* type, absl::string_view text);

template <typename E>
absl::StatusOr<E> ParseEnumAs(absl::string_view text) {
  absl::StatusOr<int> value = ParseEnum(google::protobuf::GetEnumDescriptor<E>(), text);
  if (!value.ok()) return value.status();
  return static_cast<E>(*value);
}

// The name without the enum's prefix, lower case, '-' for '_': "high",
// "field-monitor". "" for the _UNSPECIFIED value.
std::string EnumWord(const google::protobuf::EnumDescriptor* type, int value);

template <typename E>
std::string EnumWord(E value) {
  return EnumWord(google::protobuf::GetEnumDescriptor<E>(), static_cast<int>(value));
}

// Every accepted word, for help texts: "low, medium, high, urgent".
std::string EnumWords(const google::protobuf::EnumDescriptor* type);

// The kind of a body ("finding", "interview", ...), "" when unset.
std::string KindOf(const vigil::v1::RecordBody& body);
// A one-line label: a finding's title, an interview's pseudonym, an
// attachment's caption...
std::string LabelOf(const vigil::v1::RecordBody& body);
// The body's set fields for people, one "name: value" line each; text of
// several lines indented under its name.
std::string DescribeBody(const vigil::v1::RecordBody& body);

// One side of a conflict as text: the value at the conflict's field path,
// "(not set)", "(removed)" or "(deleted)".
std::string RenderValue(const vigil::v1::Conflict& conflict, const vigil::v1::FieldValue& value);

// The body a resolution sends when it takes side `index` of `conflict`
// (0: the base, 1..n: Conflict.versions in order): `body` with the value at
// the conflict's field path replaced by that side's. When the side is a
// deletion of the whole record, `body` comes back unchanged and `*deletes`
// is set. InvalidArgument for an index out of range; FailedPrecondition when
// the path no longer exists in `body`.
absl::StatusOr<vigil::v1::RecordBody> TakeSide(const vigil::v1::RecordBody& body,
                                               const vigil::v1::Conflict& conflict, int index,
                                               bool* deletes);

// `body` with the field at the conflict's path set from `text`: text as is
// for strings, true/false, numbers, enum words, comma-separated lists for
// repeated scalars, RFC 3339 for times, protobuf text format for messages
// (and for a list element or a whole record). InvalidArgument when `text`
// does not parse as that field's type.
absl::StatusOr<vigil::v1::RecordBody> SetValue(const vigil::v1::RecordBody& body,
                                               const vigil::v1::Conflict& conflict,
                                               absl::string_view text);

// Command-line arguments of the review and report commands.

// "what: word, word, ...": an enum flag's help.
template <typename E>
inline std::string OneOf(absl::string_view what) {
  return absl::StrCat(what, ": ", EnumWords(google::protobuf::GetEnumDescriptor<E>()));
}

// "yes" / "no" / "" (unset) for `flag`.
inline absl::StatusOr<std::optional<bool>> YesNo(const std::string& value, std::string_view flag) {
  if (value.empty()) return std::nullopt;
  if (value == "yes") return true;
  if (value == "no") return false;
  return absl::InvalidArgumentError(absl::StrCat(std::string(flag), ": yes or no"));
}

inline absl::StatusOr<vigil::v1::CivilDate> DateArg(const std::string& value, std::string_view flag) {
  absl::CivilDay day;
  if (!absl::ParseCivilTime(value, &day)) {
    return absl::InvalidArgumentError(absl::StrCat(std::string(flag), ": a date, YYYY-MM-DD"));
  }
  vigil::v1::CivilDate date;
  date.set_year(static_cast<int>(day.year()));
  date.set_month(day.month());
  date.set_day(day.day());
  return date;
}

// Parses `value` as an E into `set`, unless it is empty.
template <typename E, typename Set>
absl::Status EnumArg(const std::string& value, std::string_view flag, Set set) {
  if (value.empty()) return absl::OkStatus();
  absl::StatusOr<E> parsed = ParseEnumAs<E>(value);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(flag), ": ", parsed.status().message()));
  }
  set(*parsed);
  return absl::OkStatus();
}

// --from/--to as a period (one alone: that day); nullopt when neither is
// given, INVALID_ARGUMENT for a date that is not one.
inline absl::StatusOr<std::optional<vigil::v1::DateRange>> PeriodArg(const std::string& from,
                                                                     const std::string& to) {
  if (from.empty() && to.empty()) return std::nullopt;
  absl::StatusOr<vigil::v1::CivilDate> start = DateArg(from.empty() ? to : from, "--from");
  if (!start.ok()) return start.status();
  absl::StatusOr<vigil::v1::CivilDate> end = DateArg(to.empty() ? from : to, "--to");
  if (!end.ok()) return end.status();
  vigil::v1::DateRange period;
  *period.mutable_start() = *start;
  *period.mutable_end() = *end;
  return period;
}

}  // namespace vigil::vigilctl

#endif  // VIGIL_CLIENT_VIGILCTL_VALUES_H_
