// vigilctl list / show, show-record, conflicts and resolve: the local view
// of followed scopes, and settling what sync could not merge.
#include <algorithm>
#include <iostream>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "client/vigilctl_commands.h"
#include "client/vigilctl_values.h"

namespace vigil::vigilctl {
namespace {

using client::LocalView;
using vigil::v1::Conflict;

std::string EditTime(const vigil::v1::EditStamp& edit) {
  if (edit.hlc().wall_time_micros() == 0) return "";
  return ShowTime(absl::FromUnixMicros(edit.hlc().wall_time_micros()));
}

std::string EditRfc3339(const vigil::v1::EditStamp& edit) {
  if (edit.hlc().wall_time_micros() == 0) return "";
  return Rfc3339(absl::FromUnixMicros(edit.hlc().wall_time_micros()));
}

// The random tail of a device id: its first digits are a time, alike for
// devices enrolled the same day.
std::string ShortDevice(const std::string& id) {
  return id.size() > 8 ? "…" + id.substr(id.size() - 8) : id;
}

std::string FirstLine(const std::string& text) {
  const auto end = text.find('\n');
  if (end == std::string::npos || end + 1 == text.size()) {
    return std::string(absl::StripSuffix(text, "\n"));
  }
  const auto more =
      std::count(text.begin() + static_cast<std::ptrdiff_t>(end) + 1, text.end(), '\n') +
      (text.back() == '\n' ? 0 : 1);
  return absl::StrCat(text.substr(0, end), "  (+", more, " more lines)");
}

std::string KindWord(vigil::v1::ConflictKind kind) { return EnumWord(kind); }

JsonObject SideJson(const Conflict& c, const vigil::v1::FieldValue& value) {
  JsonObject o;
  o.Bool("present", value.present()).Str("value", RenderValue(c, value));
  return o;
}

}  // namespace

JsonObject ConflictJson(const Conflict& c, const LocalView& record) {
  std::vector<JsonObject> versions;
  for (int i = 0; i < c.versions_size(); ++i) {
    const auto& v = c.versions(i);
    versions.push_back(JsonObject()
                           .Int("index", i + 1)
                           .Str("author", v.edit().author())
                           .Str("device_id", v.edit().device_id())
                           .Str("time", EditRfc3339(v.edit()))
                           .Str("mutation_id", v.edit().mutation_id())
                           .Bool("present", v.value().present())
                           .Str("value", RenderValue(c, v.value()))
                           .Bool("shown", v.edit().mutation_id() == c.winner_mutation_id()));
  }
  std::vector<JsonObject> hunks;
  for (const auto& h : c.hunks()) {
    std::vector<JsonObject> texts;
    for (const auto& hv : h.versions()) {
      texts.push_back(JsonObject().Str("mutation_id", hv.mutation_id()).Str("text", hv.text()));
    }
    hunks.push_back(JsonObject()
                        .Uint("base_first_line", h.base_first_line())
                        .Str("base_text", h.base_text())
                        .ObjList("versions", texts));
  }
  JsonObject o;
  o.Str("conflict_id", c.id())
      .Str("record_id", c.record_id())
      .Str("scope", record.scope)
      .Str("record_kind", KindOf(record.body))
      .Str("record_label", LabelOf(record.body))
      .Str("field_path", c.field_path())
      .Str("kind", KindWord(c.kind()))
      .Raw("base", SideJson(c, c.base()).str())
      .ObjList("versions", versions);
  if (!hunks.empty()) o.ObjList("hunks", hunks);
  return o;
}

std::string ConflictText(const Conflict& c, const LocalView& record) {
  std::size_t author_width = 6;
  for (const auto& v : c.versions())
    author_width = std::max(author_width, Columns(v.edit().author()));
  std::string out = absl::StrCat(KindOf(record.body), " ", record.id, " \"", LabelOf(record.body),
                                 "\"\nconflict ", c.id(), " on ",
                                 c.field_path().empty() ? "the whole record" : c.field_path(), " (",
                                 KindWord(c.kind()), ")\n");
  absl::StrAppend(&out, "  #  ", Pad("author", author_width), "  ", Pad("device", 10), "  ",
                  Pad("time (UTC)", 20), "  value\n");
  absl::StrAppend(&out, "  0  ", Pad("(base)", author_width), "  ", Pad("", 10), "  ", Pad("", 20),
                  "  ", FirstLine(RenderValue(c, c.base())), "\n");
  std::map<std::string, int> index_of;
  for (int i = 0; i < c.versions_size(); ++i) {
    const auto& v = c.versions(i);
    index_of[v.edit().mutation_id()] = i + 1;
    absl::StrAppend(
        &out, "  ", Pad(absl::StrCat(i + 1), 2), " ", Pad(v.edit().author(), author_width), "  ",
        Pad(ShortDevice(v.edit().device_id()), 10), "  ", Pad(EditTime(v.edit()), 20), "  ",
        FirstLine(RenderValue(c, v.value())),
        v.edit().mutation_id() == c.winner_mutation_id() ? "   <- shown now" : "", "\n");
  }
  for (const auto& h : c.hunks()) {
    absl::StrAppend(&out, "  overlapping lines from base line ", h.base_first_line() + 1, ":\n");
    auto lines = [&](absl::string_view label, const std::string& text) {
      for (absl::string_view line : absl::StrSplit(absl::StripSuffix(text, "\n"), '\n')) {
        absl::StrAppend(&out, "    ", Pad(label, 6), "| ", line, "\n");
      }
    };
    lines("base", h.base_text());
    for (const auto& hv : h.versions()) {
      auto it = index_of.find(hv.mutation_id());
      lines(it == index_of.end() ? "?" : absl::StrCat(it->second), hv.text());
    }
  }
  absl::StrAppend(&out, "  settle it: vigilctl resolve ", c.record_id(), " ", c.id(),
                  " --take N   (or --value TEXT)\n");
  return out;
}

namespace {

JsonObject RecordJson(const LocalView& v) {
  JsonObject o;
  o.Str("id", v.id)
      .Str("scope", v.scope)
      .Str("kind", KindOf(v.body))
      .Str("label", LabelOf(v.body))
      .Uint("revision", v.server_revision)
      .Bool("pending", v.pending)
      .Bool("deleted", v.deleted)
      .Uint("open_conflicts", v.conflicts.size())
      .Proto("body", v.body);
  if (v.review.state() != vigil::v1::REVIEW_MARK_STATE_UNSPECIFIED) o.Proto("review", v.review);
  return o;
}

// The NPM unit's mark, as the team reads it ("" when never marked).
std::string ReviewText(const vigil::v1::ReviewMark& mark) {
  switch (mark.state()) {
    case vigil::v1::REVIEW_MARK_STATE_ACCEPTED:
      return absl::StrCat("accepted by ", mark.reviewer_user_id());
    case vigil::v1::REVIEW_MARK_STATE_QUESTION:
      return absl::StrCat("question from ", mark.reviewer_user_id(), ": ", mark.question(),
                          " (answer by editing the record or commenting on it)");
    case vigil::v1::REVIEW_MARK_STATE_ANSWERED:
      return absl::StrCat("answered by ", mark.answered_by_user_id(),
                          mark.question().empty() ? "" : ": " + mark.question(),
                          " (waits for review again)");
    default:
      return "";
  }
}

std::string RecordLine(const LocalView& v) {
  std::string flags;
  if (v.pending) flags += " [not yet synced]";
  if (v.deleted) flags += " [deleted]";
  if (!v.conflicts.empty()) {
    absl::StrAppend(&flags, " [", Plural(v.conflicts.size(), "conflict", "conflicts"), "]");
  }
  if (v.review.state() == vigil::v1::REVIEW_MARK_STATE_QUESTION) flags += " [question]";
  if (v.review.state() == vigil::v1::REVIEW_MARK_STATE_ACCEPTED) flags += " [accepted]";
  return absl::StrCat(
      "  ", v.id, "  ", Pad(KindOf(v.body), 12), " ",
      Pad(v.server_revision == 0 ? "new" : absl::StrCat("rev ", v.server_revision), 7), " ",
      LabelOf(v.body), flags);
}

}  // namespace

int ListScope(const Globals& g, const std::string& scope_arg) {
  absl::StatusOr<std::string> scope = ScopeArg(scope_arg);
  if (!scope.ok()) return Usage(scope.status().message());
  int code = kExitOk;
  auto replica = OpenHome(g, &code);
  if (!replica) return code;
  absl::StatusOr<std::vector<LocalView>> views = replica->List(*scope);
  if (!views.ok()) return Fail(absl::StrCat("listing ", *scope), views.status());
  absl::StatusOr<std::vector<std::string>> followed = replica->Followed();
  if (!followed.ok()) return Fail("reading the local store", followed.status());
  const bool following =
      std::find(followed->begin(), followed->end(), *scope) != followed->end();
  std::size_t conflicts = 0;
  for (const auto& v : *views) conflicts += v.conflicts.size();
  g.out().Text(absl::StrCat(
      *scope, ": ", Plural(views->size(), "record", "records"),
      conflicts > 0 ? absl::StrCat(", ", Plural(conflicts, "open conflict", "open conflicts")) : "",
      following ? "" : "  (not followed: vigilctl follow, then sync)"));
  for (const auto& v : *views) g.out().Result(RecordJson(v), RecordLine(v));
  return kExitOk;
}

int ShowRecord(const Globals& g, const std::string& record_id) {
  int code = kExitOk;
  auto replica = OpenHome(g, &code);
  if (!replica) return code;
  absl::StatusOr<LocalView> view = replica->Get(record_id);
  if (!view.ok()) return Fail(absl::StrCat("showing ", record_id), view.status());
  std::vector<JsonObject> conflicts;
  std::string text = absl::StrCat(
      "record    ", view->id, "\nscope     ", view->scope, "\nkind      ", KindOf(view->body),
      "\nrevision  ",
      view->server_revision == 0 ? "not yet on the server" : absl::StrCat(view->server_revision),
      view->pending ? "  (with local edits not yet synced)" : "", view->deleted ? "  DELETED" : "",
      view->review.state() == vigil::v1::REVIEW_MARK_STATE_UNSPECIFIED
          ? ""
          : "\nreview    " + ReviewText(view->review),
      "\n\n", DescribeBody(view->body));
  for (const auto& c : view->conflicts) {
    conflicts.push_back(ConflictJson(c, *view));
    absl::StrAppend(&text, "\n", ConflictText(c, *view));
  }
  JsonObject json = RecordJson(*view);
  json.ObjList("conflicts", conflicts);
  g.out().Result(json, text);
  return kExitOk;
}

int Conflicts(const Globals& g, const std::string& scope_arg) {
  absl::StatusOr<std::string> scope = ScopeArg(scope_arg);
  if (!scope.ok()) return Usage(scope.status().message());
  int code = kExitOk;
  auto replica = OpenHome(g, &code);
  if (!replica) return code;
  absl::StatusOr<std::vector<LocalView>> views = replica->List(*scope);
  if (!views.ok()) return Fail(absl::StrCat("listing ", *scope), views.status());
  std::size_t count = 0;
  for (const auto& v : *views) count += v.conflicts.size();
  g.out().Text(count == 0
                   ? absl::StrCat(*scope, ": no open conflicts (as of this device's last sync)")
                   : absl::StrCat(*scope, ": ", Plural(count, "open conflict", "open conflicts"),
                                  " (as of this device's last sync)\n"));
  for (const auto& v : *views) {
    for (const auto& c : v.conflicts) g.out().Result(ConflictJson(c, v), ConflictText(c, v));
  }
  return count == 0 ? kExitOk : kExitAttention;
}

int Resolve(const Globals& g, const std::string& record_id, const std::string& conflict_id,
            std::optional<int> take, std::optional<std::string> value) {
  if (take.has_value() == value.has_value()) {
    return Usage(
        "resolve needs exactly one of --take N (a side: 0 the base, 1.. the versions "
        "`vigilctl conflicts` lists) or --value TEXT");
  }
  int code = kExitOk;
  auto replica = OpenHome(g, &code);
  if (!replica) return code;
  if (!RequireProfile(g, *replica, &code)) return code;
  absl::StatusOr<LocalView> view = replica->Get(record_id);
  if (!view.ok()) return Fail(absl::StrCat("resolving on ", record_id), view.status());
  auto it = std::find_if(view->conflicts.begin(), view->conflicts.end(),
                         [&](const Conflict& c) { return c.id() == conflict_id; });
  if (it == view->conflicts.end()) {
    return Fail("resolve", absl::NotFoundError(absl::StrCat(
                               "record ", record_id, " has no open conflict ", conflict_id,
                               " on this device: sync, then list them with vigilctl conflicts ",
                               view->scope)));
  }
  if (view->pending) {
    return Fail("resolve", absl::FailedPreconditionError(
                               "the record has local edits not yet synced: run vigilctl sync, "
                               "check the conflict again, then resolve"));
  }
  bool deletes = false;
  absl::StatusOr<vigil::v1::RecordBody> body = take.has_value()
                                                   ? TakeSide(view->body, *it, *take, &deletes)
                                                   : SetValue(view->body, *it, *value);
  if (!body.ok()) {
    if (body.status().code() == absl::StatusCode::kInvalidArgument) {
      return Usage(body.status().message());
    }
    return Fail("resolve", body.status());
  }
  if (absl::Status s = replica->Resolve(record_id, {conflict_id}, *body); !s.ok()) {
    return Fail("resolve", s);
  }
  if (deletes) {
    if (absl::Status s = replica->Delete(record_id); !s.ok()) return Fail("deleting the record", s);
  }
  JsonObject json;
  json.Str("record_id", record_id)
      .Str("conflict_id", conflict_id)
      .Str("field_path", it->field_path());
  std::string how;
  if (take.has_value()) {
    json.Int("take", *take);
    how = *take == 0 ? "the base value"
                     : absl::StrCat("version ", *take, " (",
                                    it->versions(*take - 1).edit().author(), "'s)");
  } else {
    json.Str("value", *value);
    how = "a new value";
  }
  json.Bool("deleted", deletes).Bool("queued", true);
  g.out().Result(json, absl::StrCat("resolved conflict ", conflict_id, " on ",
                                    it->field_path().empty() ? "the record" : it->field_path(),
                                    " with ", how, deletes ? " (the record is deleted)" : "",
                                    "\nrun vigilctl sync to send the resolution"));
  return kExitOk;
}

}  // namespace vigil::vigilctl
