#include "client/vigilctl_values.h"

#include <memory>
#include <optional>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "base/status_macros.h"
#include "client/vigilctl_output.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/timestamp.pb.h"
#include "sync/conflict_sides.h"
#include "sync/record_merge.h"
#include "sync/reflection_util.h"

namespace vigil::vigilctl {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::EnumDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;
using vigil::v1::Conflict;
using vigil::v1::FieldValue;
using vigil::v1::RecordBody;
using sync::CarrierOf;
using sync::ElementIndex;
using sync::NewMessageOf;
using sync::PathStep;

// "SEVERITY_" for enum Severity: the name of its _UNSPECIFIED value minus
// "UNSPECIFIED" (every Vigil enum starts with one).
std::string PrefixOf(const EnumDescriptor* type) {
  const std::string& first = type->value(0)->name();
  if (absl::EndsWith(first, "UNSPECIFIED")) return first.substr(0, first.size() - 11);
  return "";
}

std::string Normalized(absl::string_view text) {
  std::string out = absl::AsciiStrToUpper(absl::StripAsciiWhitespace(text));
  for (char& c : out) {
    if (c == '-' || c == ' ') c = '_';
  }
  return out;
}

std::string SingleLine(const Message& m) {
  google::protobuf::TextFormat::Printer printer;
  printer.SetSingleLineMode(true);
  printer.SetUseUtf8StringEscaping(true);
  std::string out;
  printer.PrintToString(m, &out);
  return std::string(absl::StripTrailingAsciiWhitespace(out));
}

std::string ScalarText(const Message& m, const FieldDescriptor* f, int index) {
  const Reflection* r = m.GetReflection();
  const bool rep = f->is_repeated();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string s = rep ? r->GetRepeatedString(m, f, index) : r->GetString(m, f);
      if (f->type() == FieldDescriptor::TYPE_BYTES) return absl::StrCat("<", s.size(), " bytes>");
      return s;
    }
    case FieldDescriptor::CPPTYPE_BOOL:
      return (rep ? r->GetRepeatedBool(m, f, index) : r->GetBool(m, f)) ? "true" : "false";
    case FieldDescriptor::CPPTYPE_INT32:
      return absl::StrCat(rep ? r->GetRepeatedInt32(m, f, index) : r->GetInt32(m, f));
    case FieldDescriptor::CPPTYPE_INT64:
      return absl::StrCat(rep ? r->GetRepeatedInt64(m, f, index) : r->GetInt64(m, f));
    case FieldDescriptor::CPPTYPE_UINT32:
      return absl::StrCat(rep ? r->GetRepeatedUInt32(m, f, index) : r->GetUInt32(m, f));
    case FieldDescriptor::CPPTYPE_UINT64:
      return absl::StrCat(rep ? r->GetRepeatedUInt64(m, f, index) : r->GetUInt64(m, f));
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return absl::StrCat(rep ? r->GetRepeatedDouble(m, f, index) : r->GetDouble(m, f));
    case FieldDescriptor::CPPTYPE_FLOAT:
      return absl::StrCat(rep ? r->GetRepeatedFloat(m, f, index) : r->GetFloat(m, f));
    case FieldDescriptor::CPPTYPE_ENUM: {
      const int v = rep ? r->GetRepeatedEnumValue(m, f, index) : r->GetEnumValue(m, f);
      const std::string word = EnumWord(f->enum_type(), v);
      return word.empty() ? "(unspecified)" : word;
    }
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      const Message& sub = rep ? r->GetRepeatedMessage(m, f, index) : r->GetMessage(m, f);
      if (sub.GetDescriptor()->full_name() == "google.protobuf.Timestamp") {
        const auto& ts = static_cast<const google::protobuf::Timestamp&>(sub);
        return FormatTimestamp(ts);
      }
      return "{" + SingleLine(sub) + "}";
    }
  }
  return "";
}

// The value of field `f` of `m` as text: lists joined with ", ".
std::string FieldText(const Message& m, const FieldDescriptor* f) {
  const Reflection* r = m.GetReflection();
  if (f->is_repeated()) {
    if (r->FieldSize(m, f) == 0) return "(none)";
    std::vector<std::string> parts;
    for (int i = 0; i < r->FieldSize(m, f); ++i) parts.push_back(ScalarText(m, f, i));
    return absl::StrJoin(parts, ", ");
  }
  if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && !r->HasField(m, f)) return "(not set)";
  return ScalarText(m, f, -1);
}

absl::StatusOr<bool> ParseBool(absl::string_view text) {
  const std::string t = Normalized(text);
  if (t == "TRUE" || t == "YES" || t == "1" || t == "ON") return true;
  if (t == "FALSE" || t == "NO" || t == "0" || t == "OFF") return false;
  return absl::InvalidArgumentError(absl::StrCat("'", text, "' is not true or false"));
}

// Sets (or, for repeated fields, adds) one value of `f` in `m` from text.
absl::Status SetScalar(Message* m, const FieldDescriptor* f, absl::string_view text) {
  const Reflection* r = m->GetReflection();
  const bool rep = f->is_repeated();
  auto bad = [&](absl::string_view what) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' is not ", what, " (field ", f->name(), ")"));
  };
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      rep ? r->AddString(m, f, std::string(text)) : r->SetString(m, f, std::string(text));
      return absl::OkStatus();
    case FieldDescriptor::CPPTYPE_BOOL: {
      ASSIGN_OR_RETURN(bool b, ParseBool(text));
      rep ? r->AddBool(m, f, b) : r->SetBool(m, f, b);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_INT32: {
      std::int32_t v;
      if (!absl::SimpleAtoi(text, &v)) return bad("a whole number");
      rep ? r->AddInt32(m, f, v) : r->SetInt32(m, f, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_INT64: {
      std::int64_t v;
      if (!absl::SimpleAtoi(text, &v)) return bad("a whole number");
      rep ? r->AddInt64(m, f, v) : r->SetInt64(m, f, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_UINT32: {
      std::uint32_t v;
      if (!absl::SimpleAtoi(text, &v)) return bad("a whole number");
      rep ? r->AddUInt32(m, f, v) : r->SetUInt32(m, f, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_UINT64: {
      std::uint64_t v;
      if (!absl::SimpleAtoi(text, &v)) return bad("a whole number");
      rep ? r->AddUInt64(m, f, v) : r->SetUInt64(m, f, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_DOUBLE:
    case FieldDescriptor::CPPTYPE_FLOAT: {
      double v;
      if (!absl::SimpleAtod(text, &v)) return bad("a number");
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_FLOAT) {
        rep ? r->AddFloat(m, f, static_cast<float>(v)) : r->SetFloat(m, f, static_cast<float>(v));
      } else {
        rep ? r->AddDouble(m, f, v) : r->SetDouble(m, f, v);
      }
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_ENUM: {
      ASSIGN_OR_RETURN(int v, ParseEnum(f->enum_type(), text));
      rep ? r->AddEnumValue(m, f, v) : r->SetEnumValue(m, f, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      Message* sub = rep ? r->AddMessage(m, f) : r->MutableMessage(m, f);
      sub->Clear();
      if (sub->GetDescriptor()->full_name() == "google.protobuf.Timestamp") {
        absl::Time t;
        std::string error;
        if (!absl::ParseTime(absl::RFC3339_full, std::string(text), &t, &error)) {
          return bad("an RFC 3339 time such as 2026-11-29T10:00:00Z");
        }
        auto* ts = static_cast<google::protobuf::Timestamp*>(sub);
        ts->set_seconds(absl::ToUnixSeconds(t));
        ts->set_nanos(
            static_cast<int>((t - absl::FromUnixSeconds(ts->seconds())) / absl::Nanoseconds(1)));
        return absl::OkStatus();
      }
      if (!google::protobuf::TextFormat::ParseFromString(std::string(text), sub)) {
        return bad(absl::StrCat("a ", sub->GetDescriptor()->name(),
                                " in protobuf text format (e.g. 'field: \"value\"')"));
      }
      return absl::OkStatus();
    }
  }
  return bad("a value of this type");
}

// Parses `text` as protobuf text format into `m`.
absl::Status ParseText(absl::string_view text, Message* m) {
  m->Clear();
  if (!google::protobuf::TextFormat::ParseFromString(std::string(text), m)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' is not a ", m->GetDescriptor()->name(),
                     " in protobuf text format (e.g. 'title: \"...\" severity: SEVERITY_HIGH')"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<int> ParseEnum(const EnumDescriptor* type, absl::string_view text) {
  const std::string want = Normalized(text);
  const std::string prefix = PrefixOf(type);
  if (!want.empty()) {
    for (const std::string& name : {want, prefix + want}) {
      const auto* exact = type->FindValueByName(name);
      if (exact != nullptr && exact->number() != 0) return exact->number();
    }
    // A word that begins or ends exactly one name.
    int found = -1;
    int matches = 0;
    for (int i = 0; i < type->value_count(); ++i) {
      if (type->value(i)->number() == 0) continue;
      const std::string suffix = type->value(i)->name().substr(prefix.size());
      if (absl::StartsWith(suffix, want + "_") || absl::EndsWith(suffix, "_" + want)) {
        found = type->value(i)->number();
        ++matches;
      }
    }
    if (matches == 1) return found;
  }
  return absl::InvalidArgumentError(absl::StrCat("'", text, "' is not one of: ", EnumWords(type)));
}

std::string EnumWord(const EnumDescriptor* type, int value) {
  const auto* v = type->FindValueByNumber(value);
  if (v == nullptr) return absl::StrCat(value);
  if (value == 0) return "";
  std::string word = absl::AsciiStrToLower(v->name().substr(PrefixOf(type).size()));
  for (char& c : word) {
    if (c == '_') c = '-';
  }
  return word;
}

std::string EnumWords(const EnumDescriptor* type) {
  std::vector<std::string> words;
  for (int i = 0; i < type->value_count(); ++i) {
    if (type->value(i)->number() != 0) words.push_back(EnumWord(type, type->value(i)->number()));
  }
  return absl::StrJoin(words, ", ");
}

std::string KindOf(const RecordBody& body) {
  const FieldDescriptor* f = sync::BodyKindField(body);
  return f == nullptr ? "" : f->name();
}

std::string LabelOf(const RecordBody& body) {
  const FieldDescriptor* kind = sync::BodyKindField(body);
  if (kind == nullptr) return "";
  const Message& m = body.GetReflection()->GetMessage(body, kind);
  for (const char* name : {"title", "name", "pseudonym", "caption", "text", "summary"}) {
    const FieldDescriptor* f = m.GetDescriptor()->FindFieldByName(name);
    if (f == nullptr || f->is_repeated() || f->cpp_type() != FieldDescriptor::CPPTYPE_STRING) {
      continue;
    }
    const std::string value = m.GetReflection()->GetString(m, f);
    if (!value.empty()) return value.substr(0, value.find('\n'));
  }
  if (body.has_attachment()) {
    return absl::StrCat(body.attachment().media_type(), ", ",
                        FormatBytes(body.attachment().size_bytes()));
  }
  if (body.has_visit()) {
    return absl::StrCat("visit of ", body.visit().facility_id(), " (",
                        EnumWord(body.visit().state()), ")");
  }
  return "";
}

std::string DescribeBody(const RecordBody& body) {
  const FieldDescriptor* kind = sync::BodyKindField(body);
  if (kind == nullptr) return "(empty body)\n";
  const Message& m = body.GetReflection()->GetMessage(body, kind);
  std::vector<const FieldDescriptor*> fields;
  m.GetReflection()->ListFields(m, &fields);
  std::string out;
  for (const FieldDescriptor* f : fields) {
    const std::string text = FieldText(m, f);
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_STRING && !f->is_repeated() &&
        text.find('\n') != std::string::npos) {
      absl::StrAppend(&out, f->name(), ":\n");
      for (absl::string_view line : absl::StrSplit(absl::StripSuffix(text, "\n"), '\n')) {
        absl::StrAppend(&out, "  | ", line, "\n");
      }
    } else if (f->is_repeated() && f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      absl::StrAppend(&out, f->name(), ":\n");
      for (int i = 0; i < m.GetReflection()->FieldSize(m, f); ++i) {
        absl::StrAppend(&out, "  - ", ScalarText(m, f, i), "\n");
      }
    } else {
      absl::StrAppend(&out, f->name(), ": ", text, "\n");
    }
  }
  return out;
}

std::string RenderValue(const Conflict& conflict, const FieldValue& value) {
  if (conflict.kind() == vigil::v1::CONFLICT_KIND_UNKNOWN_FIELDS) {
    return "(fields this vigilctl does not know)";
  }
  absl::StatusOr<std::vector<PathStep>> steps = sync::ParseFieldPath(conflict.field_path());
  if (!value.present()) {
    if (steps.ok() && steps->empty()) return "(deleted)";
    if (steps.ok() && steps->back().element_id.has_value()) return "(removed)";
    return "(not set)";
  }
  absl::StatusOr<std::unique_ptr<Message>> carrier = CarrierOf(value);
  if (!steps.ok() || !carrier.ok()) {
    return absl::StrCat("(unreadable ", value.carrier_type(), " value)");
  }
  if (steps->empty()) return SingleLine(**carrier);
  const Descriptor* type = (*carrier)->GetDescriptor();
  const FieldDescriptor* f = type->FindFieldByName(steps->back().field);
  if (f == nullptr)
    return absl::StrCat("(", type->full_name(), " has no ", steps->back().field, ")");
  if (steps->back().element_id.has_value()) {
    if ((*carrier)->GetReflection()->FieldSize(**carrier, f) != 1) return "(removed)";
    return ScalarText(**carrier, f, 0);
  }
  return FieldText(**carrier, f);
}

absl::StatusOr<RecordBody> TakeSide(const RecordBody& body, const Conflict& conflict, int index,
                                    bool* deletes) {
  return sync::TakeSide(body, conflict, index, deletes);
}

absl::StatusOr<RecordBody> SetValue(const RecordBody& body, const Conflict& conflict,
                                    absl::string_view text) {
  ASSIGN_OR_RETURN(std::vector<PathStep> steps, sync::ParseFieldPath(conflict.field_path()));
  RecordBody out = body;
  const FieldDescriptor* kind = sync::BodyKindField(out);
  if (kind == nullptr) return absl::FailedPreconditionError("the record has no body");
  Message* root = out.GetReflection()->MutableMessage(&out, kind);
  if (steps.empty()) {
    RETURN_IF_ERROR(ParseText(text, root));
    return out;
  }
  ASSIGN_OR_RETURN(Message * parent, sync::PathParent(root, steps));
  const PathStep& last = steps.back();
  ASSIGN_OR_RETURN(const FieldDescriptor* f, sync::FieldNamed(parent->GetDescriptor(), last.field));
  const Reflection* r = parent->GetReflection();
  if (last.element_id.has_value()) {
    const int at = ElementIndex(*parent, f, *last.element_id);
    Message* element =
        at >= 0 ? r->MutableRepeatedMessage(parent, f, at) : r->AddMessage(parent, f);
    RETURN_IF_ERROR(ParseText(text, element));
    const FieldDescriptor* id = element->GetDescriptor()->FindFieldByName("id");
    if (id != nullptr) element->GetReflection()->SetString(element, id, *last.element_id);
    return out;
  }
  if (f->is_repeated()) {
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      return absl::InvalidArgumentError(absl::StrCat(
          "'", f->name(), "' is a list of elements: resolve each element's conflict instead"));
    }
    r->ClearField(parent, f);
    for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
      RETURN_IF_ERROR(SetScalar(parent, f, absl::StripAsciiWhitespace(part)));
    }
    return out;
  }
  RETURN_IF_ERROR(SetScalar(parent, f, text));
  return out;
}

}  // namespace vigil::vigilctl
