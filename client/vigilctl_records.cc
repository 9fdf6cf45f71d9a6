// vigilctl finding / interview create and edit, attach: local edits, applied
// to the home's store at once and sent by the next `vigilctl sync`.
#include <algorithm>
#include <filesystem>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "client/vigilctl_commands.h"
#include "sync/scope.h"
#include "client/vigilctl_values.h"
#include "vigil/v1/finding.pb.h"
#include "vigil/v1/interview.pb.h"

namespace vigil::vigilctl {
namespace {

using vigil::v1::RecordBody;

// A usage error (exit 2) or a failure, by code.
int Refuse(absl::string_view what, const absl::Status& status) {
  if (status.code() == absl::StatusCode::kInvalidArgument) return Usage(status.message());
  return Fail(what, status);
}

// Narratives merge line by line: every line ends with a newline.
std::string AsLines(std::string text) {
  if (!text.empty() && text.back() != '\n') text.push_back('\n');
  return text;
}

// The text of --X or --X-file (not both); nullopt when neither was given.
absl::StatusOr<std::optional<std::string>> TextArg(const std::optional<std::string>& text,
                                                   const std::optional<std::string>& file,
                                                   absl::string_view name) {
  if (text.has_value() && file.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("give --", name, " or --", name, "-file, not both"));
  }
  if (text.has_value()) return AsLines(*text);
  if (!file.has_value()) return std::nullopt;
  absl::StatusOr<std::string> read = ReadTextFile(*file);
  if (!read.ok()) return absl::InvalidArgumentError(read.status().message());
  return AsLines(*read);
}

std::string AppendLines(std::string text, const std::vector<std::string>& lines) {
  if (!text.empty() && text.back() != '\n') text.push_back('\n');
  for (const std::string& line : lines) absl::StrAppend(&text, line, "\n");
  return text;
}

template <typename Repeated>
void AddUnique(Repeated* list, const std::string& value) {
  if (std::find(list->begin(), list->end(), value) == list->end()) *list->Add() = value;
}

template <typename Repeated, typename T>
void RemoveAll(Repeated* list, const T& value) {
  list->erase(std::remove(list->begin(), list->end(), value), list->end());
}

// Applies the flags of `args` to `f`; InvalidArgument for a bad value.
absl::Status ApplyFinding(const FindingArgs& args, vigil::v1::Finding* f) {
  if (args.title) f->set_title(*args.title);
  absl::StatusOr<std::optional<std::string>> narrative =
      TextArg(args.narrative, args.narrative_file, "narrative");
  if (!narrative.ok()) return narrative.status();
  if (narrative->has_value()) f->set_narrative(**narrative);
  if (!args.append_lines.empty()) f->set_narrative(AppendLines(f->narrative(), args.append_lines));
  if (args.severity) {
    absl::StatusOr<vigil::v1::Severity> s = ParseEnumAs<vigil::v1::Severity>(*args.severity);
    if (!s.ok())
      return absl::InvalidArgumentError(absl::StrCat("--severity: ", s.status().message()));
    f->set_severity(*s);
  }
  if (args.category) {
    absl::StatusOr<vigil::v1::FindingCategory> c =
        ParseEnumAs<vigil::v1::FindingCategory>(*args.category);
    if (!c.ok())
      return absl::InvalidArgumentError(absl::StrCat("--category: ", c.status().message()));
    f->set_category(*c);
  }
  if (args.subcategory) f->set_subcategory(*args.subcategory);
  if (args.location) f->set_location(*args.location);
  if (args.good_practice) f->set_good_practice(*args.good_practice);
  for (const std::string& t : args.add_tags) AddUnique(f->mutable_tags(), t);
  for (const std::string& t : args.remove_tags) RemoveAll(f->mutable_tags(), t);
  for (const std::string& e : args.add_evidence) AddUnique(f->mutable_evidence_attachment_ids(), e);
  return absl::OkStatus();
}

absl::Status ApplyInterview(const InterviewArgs& args, vigil::v1::Interview* i) {
  if (args.pseudonym) i->set_pseudonym(*args.pseudonym);
  if (args.kind) {
    absl::StatusOr<vigil::v1::InterviewKind> k = ParseEnumAs<vigil::v1::InterviewKind>(*args.kind);
    if (!k.ok()) return absl::InvalidArgumentError(absl::StrCat("--kind: ", k.status().message()));
    i->set_kind(*k);
  }
  if (args.interpreter_language) {
    i->set_interpreter_present(!args.interpreter_language->empty());
    i->set_interpreter_language(*args.interpreter_language);
  }
  if (args.location) i->set_location(*args.location);
  absl::StatusOr<std::optional<std::string>> notes = TextArg(args.notes, args.notes_file, "notes");
  if (!notes.ok()) return notes.status();
  if (notes->has_value()) i->set_notes(**notes);
  if (!args.append_lines.empty()) i->set_notes(AppendLines(i->notes(), args.append_lines));
  if (args.conducted_at) {
    absl::Time t = absl::Now();
    std::string error;
    if (*args.conducted_at != "now" &&
        !absl::ParseTime(absl::RFC3339_full, *args.conducted_at, &t, &error)) {
      return absl::InvalidArgumentError(absl::StrCat("--conducted-at: '", *args.conducted_at,
                                                     "' is not \"now\" or an RFC 3339 time such as "
                                                     "2026-11-29T10:30:00Z"));
    }
    i->mutable_conducted_at()->set_seconds(absl::ToUnixSeconds(t));
  }
  if (args.consent) {
    vigil::v1::Consent consent;
    for (absl::string_view part : absl::StrSplit(*args.consent, ',', absl::SkipWhitespace())) {
      const std::string flag = absl::AsciiStrToLower(absl::StripAsciiWhitespace(part));
      if (flag == "record") {
        consent.set_record(true);
      } else if (flag == "quote") {
        consent.set_quote(true);
      } else if (flag == "transmit") {
        consent.set_transmit(true);
      } else if (flag == "photo") {
        consent.set_photo(true);
      } else if (flag != "none") {
        return absl::InvalidArgumentError(absl::StrCat(
            "--consent: '", flag, "' is not one of record, quote, transmit, photo, none"));
      }
    }
    *i->mutable_consent() = consent;
  }
  if (args.reprisal_watch) i->set_reprisal_watch(*args.reprisal_watch);
  for (const std::string& tag : args.add_vulnerabilities) {
    absl::StatusOr<vigil::v1::VulnerabilityTag> t = ParseEnumAs<vigil::v1::VulnerabilityTag>(tag);
    if (!t.ok())
      return absl::InvalidArgumentError(absl::StrCat("--vulnerability: ", t.status().message()));
    if (std::find(i->vulnerability_tags().begin(), i->vulnerability_tags().end(), *t) ==
        i->vulnerability_tags().end()) {
      i->add_vulnerability_tags(*t);
    }
  }
  for (const std::string& tag : args.remove_vulnerabilities) {
    absl::StatusOr<vigil::v1::VulnerabilityTag> t = ParseEnumAs<vigil::v1::VulnerabilityTag>(tag);
    if (!t.ok())
      return absl::InvalidArgumentError(
          absl::StrCat("--remove-vulnerability: ", t.status().message()));
    RemoveAll(i->mutable_vulnerability_tags(), static_cast<int>(*t));
  }
  for (const std::string& user : args.interviewers)
    AddUnique(i->mutable_interviewer_user_ids(), user);
  return absl::OkStatus();
}

// Creates `body` in the visit's scope (and follows it, so sync brings the
// record back with the server's revision).
int CreateIn(const Globals& g, client::Replica& replica, const std::string& visit_id,
             const RecordBody& body) {
  absl::StatusOr<sync::Scope> visit = sync::Scope::Visit(visit_id);
  if (!visit.ok()) return Fail("the visit", visit.status());
  const std::string& scope = visit->str();
  if (absl::Status s = replica.Follow(scope); !s.ok()) return Fail("following the visit", s);
  absl::StatusOr<std::string> id = replica.Create(scope, body);
  if (!id.ok()) return Fail(absl::StrCat("creating the ", KindOf(body)), id.status());
  g.out().Result(JsonObject().Str("id", *id).Str("scope", scope).Str("kind", KindOf(body)),
                 absl::StrCat("created ", KindOf(body), " ", *id, " in ", scope,
                              "\nit is on this device only until `vigilctl sync`"));
  return kExitOk;
}

// Replaces the body of `id` after `change` edited a copy of it.
template <typename Change>
int EditRecord(const Globals& g, const std::string& id, RecordBody::KindCase kind, Change change) {
  int code = kExitOk;
  auto replica = OpenHome(g, &code);
  if (!replica) return code;
  if (!RequireProfile(g, *replica, &code)) return code;
  absl::StatusOr<client::LocalView> view = replica->Get(id);
  if (!view.ok()) return Fail(absl::StrCat("editing ", id), view.status());
  if (view->body.kind_case() != kind) {
    return Usage(absl::StrCat(id, " is a ", KindOf(view->body), ", not a ",
                              kind == RecordBody::kFinding ? "finding" : "interview"));
  }
  RecordBody body = view->body;
  if (absl::Status s = change(body); !s.ok()) return Refuse("edit", s);
  if (body.SerializeAsString() == view->body.SerializeAsString()) {
    return Usage("nothing to change: give the fields to edit (see --help)");
  }
  if (absl::Status s = replica->Edit(id, body); !s.ok())
    return Fail(absl::StrCat("editing ", id), s);
  g.out().Result(
      JsonObject().Str("id", id).Str("scope", view->scope).Str("kind", KindOf(body)),
      absl::StrCat("edited ", KindOf(body), " ", id,
                   "; `vigilctl sync` sends it (the server merges it with other edits)"));
  return kExitOk;
}

std::string GuessMediaType(const std::string& file) {
  std::string ext = absl::AsciiStrToLower(std::filesystem::path(file).extension().string());
  static const std::pair<const char*, const char*> kTypes[] = {
      {".jpg", "image/jpeg"},  {".jpeg", "image/jpeg"},     {".png", "image/png"},
      {".heic", "image/heic"}, {".pdf", "application/pdf"}, {".mp3", "audio/mpeg"},
      {".m4a", "audio/mp4"},   {".wav", "audio/wav"},       {".mp4", "video/mp4"},
      {".txt", "text/plain"}};
  for (const auto& [e, type] : kTypes) {
    if (ext == e) return type;
  }
  return "application/octet-stream";
}

}  // namespace

namespace {

// Creates `body` in the registry on this device (sent by the next sync).
int RegistryCreate(const Globals& g, const RecordBody& body, const std::string& kind) {
  int code = kExitOk;
  auto replica = OpenHome(g, &code);
  if (!replica) return code;
  if (!RequireProfile(g, *replica, &code)) return code;
  const std::string scope = sync::Scope::Registry().str();
  if (absl::Status s = replica->Follow(scope); !s.ok()) return Fail("following the registry", s);
  absl::StatusOr<std::string> id = replica->Create(scope, body);
  if (!id.ok()) return Fail(absl::StrCat("creating the ", kind), id.status());
  g.out().Result(JsonObject().Str("id", *id).Str("scope", scope).Str("kind", kind),
                 absl::StrCat("created ", kind, " ", *id, " in ", scope,
                              "\nit is on this device only until `vigilctl sync`"));
  return kExitOk;
}

}  // namespace

int FacilityCreate(const Globals& g, const std::string& name, const std::string& type,
                   std::uint32_t capacity) {
  RecordBody body;
  body.mutable_facility()->set_name(name);
  body.mutable_facility()->set_official_capacity(capacity);
  absl::StatusOr<vigil::v1::FacilityType> parsed = ParseEnumAs<vigil::v1::FacilityType>(type);
  if (!parsed.ok()) return Usage(absl::StrCat("--type: ", parsed.status().message()));
  body.mutable_facility()->set_type(*parsed);
  return RegistryCreate(g, body, "facility");
}

int AuthorityCreate(const Globals& g, const std::string& name, const std::string& parent) {
  RecordBody body;
  body.mutable_authority()->set_name(name);
  body.mutable_authority()->set_parent_authority_id(parent);
  return RegistryCreate(g, body, "authority");
}

int VisitCreate(const Globals& g, const std::string& visit, const std::string& facility_id,
                const std::string& type, bool unannounced, const std::string& objectives) {
  absl::StatusOr<std::string> visit_id = VisitArg(visit);
  if (!visit_id.ok()) return Usage(visit_id.status().message());
  RecordBody body;
  vigil::v1::Visit& v = *body.mutable_visit();
  v.set_facility_id(facility_id);
  v.set_announced(!unannounced);
  v.set_state(vigil::v1::VISIT_STATE_PLANNED);
  v.set_objectives(objectives);
  absl::StatusOr<vigil::v1::VisitType> parsed = ParseEnumAs<vigil::v1::VisitType>(type);
  if (!parsed.ok()) return Usage(absl::StrCat("--type: ", parsed.status().message()));
  v.set_type(*parsed);
  int code = kExitOk;
  auto replica = OpenHome(g, &code);
  if (!replica) return code;
  if (!RequireProfile(g, *replica, &code)) return code;
  const std::string scope = "visits/" + *visit_id;
  if (absl::Status s = replica->Follow(scope); !s.ok()) return Fail("following the visit", s);
  absl::StatusOr<std::string> id = replica->Create(scope, body, *visit_id);
  if (!id.ok()) return Fail("creating the visit", id.status());
  g.out().Result(JsonObject().Str("id", *id).Str("scope", scope).Str("kind", "visit"),
                 absl::StrCat("created visit ", *id, " (planned) in ", scope,
                              "; its team is the one `vigilctl team add` sets",
                              "\nit is on this device only until `vigilctl sync`"));
  return kExitOk;
}

int CreateVisitRecord(const Globals& g, const std::string& visit_arg, const RecordBody& body) {
  absl::StatusOr<std::string> visit = VisitArg(visit_arg);
  if (!visit.ok()) return Usage(visit.status().message());
  int code = kExitOk;
  auto replica = OpenHome(g, &code);
  if (!replica) return code;
  if (!RequireProfile(g, *replica, &code)) return code;
  return CreateIn(g, *replica, *visit, body);
}

int FindingCreate(const Globals& g, const FindingArgs& args) {
  absl::StatusOr<std::string> visit = VisitArg(args.visit);
  if (!visit.ok()) return Usage(visit.status().message());
  RecordBody body;
  body.mutable_finding()->set_visit_id(*visit);
  if (absl::Status s = ApplyFinding(args, body.mutable_finding()); !s.ok())
    return Refuse("finding", s);
  int code = kExitOk;
  auto replica = OpenHome(g, &code);
  if (!replica) return code;
  if (!RequireProfile(g, *replica, &code)) return code;
  return CreateIn(g, *replica, *visit, body);
}

int FindingEdit(const Globals& g, const FindingArgs& args) {
  return EditRecord(g, args.id, RecordBody::kFinding,
                    [&](RecordBody& body) { return ApplyFinding(args, body.mutable_finding()); });
}

int InterviewCreate(const Globals& g, const InterviewArgs& args) {
  absl::StatusOr<std::string> visit = VisitArg(args.visit);
  if (!visit.ok()) return Usage(visit.status().message());
  RecordBody body;
  body.mutable_interview()->set_visit_id(*visit);
  InterviewArgs with_defaults = args;
  if (!with_defaults.conducted_at) with_defaults.conducted_at = "now";
  if (absl::Status s = ApplyInterview(with_defaults, body.mutable_interview()); !s.ok()) {
    return Refuse("interview", s);
  }
  int code = kExitOk;
  auto replica = OpenHome(g, &code);
  if (!replica) return code;
  std::optional<vigil::internal::ClientProfile> profile = RequireProfile(g, *replica, &code);
  if (!profile) return code;
  if (body.interview().interviewer_user_ids().empty()) {
    body.mutable_interview()->add_interviewer_user_ids(profile->user_id());
  }
  return CreateIn(g, *replica, *visit, body);
}

int InterviewEdit(const Globals& g, const InterviewArgs& args) {
  return EditRecord(g, args.id, RecordBody::kInterview, [&](RecordBody& body) {
    return ApplyInterview(args, body.mutable_interview());
  });
}

int Attach(const Globals& g, const AttachArgs& args) {
  absl::StatusOr<std::string> visit = VisitArg(args.visit);
  if (!visit.ok()) return Usage(visit.status().message());
  std::error_code ec;
  if (!std::filesystem::is_regular_file(args.file, ec)) {
    return Usage(absl::StrCat(args.file, " is not a file"));
  }
  int code = kExitOk;
  auto replica = OpenHome(g, &code);
  if (!replica) return code;
  if (!RequireProfile(g, *replica, &code)) return code;
  absl::StatusOr<sync::Scope> visit_scope = sync::Scope::Visit(*visit);
  if (!visit_scope.ok()) return Fail("the visit", visit_scope.status());
  const std::string& scope = visit_scope->str();
  if (absl::Status s = replica->Follow(scope); !s.ok()) return Fail("following the visit", s);
  vigil::v1::Attachment metadata;
  metadata.set_visit_id(*visit);
  metadata.set_caption(args.caption);
  metadata.set_media_type(args.media_type.empty() ? GuessMediaType(args.file) : args.media_type);
  metadata.set_identifiable(args.identifiable);
  metadata.set_consent_interview_id(args.consent_interview_id);
  for (const std::string& t : args.tags) AddUnique(metadata.mutable_tags(), t);
  absl::StatusOr<std::string> id = replica->Attach(scope, args.file, metadata);
  if (!id.ok()) return Fail(absl::StrCat("attaching ", args.file), id.status());
  absl::StatusOr<client::LocalView> view = replica->Get(*id);
  const vigil::v1::Attachment& a = view.ok() ? view->body.attachment() : metadata;
  g.out().Result(JsonObject()
                     .Str("id", *id)
                     .Str("scope", scope)
                     .Str("kind", "attachment")
                     .Str("sha256", a.sha256())
                     .Uint("size_bytes", a.size_bytes())
                     .Str("media_type", a.media_type()),
                 absl::StrCat("attached ", args.file, " as ", *id, " (", a.media_type(), ", ",
                              FormatBytes(a.size_bytes()), ", sha256 ", a.sha256(),
                              ")\nthe copy in the home is uploaded by `vigilctl sync` and kept "
                              "until a signed receipt confirms the server holds it"));
  return kExitOk;
}

}  // namespace vigil::vigilctl
