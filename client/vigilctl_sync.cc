// vigilctl follow, sync (pull) and status: the tablet side of syncing.
#include <unistd.h>

#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/vigilctl_commands.h"
#include "client/vigilctl_values.h"

namespace vigil::vigilctl {
namespace {

using client::Progress;

// Sync progress on stderr: a redrawn bar on a terminal, one plain line per
// step otherwise (logs, CI).
class ProgressPrinter {
 public:
  explicit ProgressPrinter(bool tty) : tty_(tty) {}

  void operator()(const Progress& p) {
    const bool step = p.phase != phase_ || p.scope != scope_;
    if (step) {
      phase_ = p.phase;
      scope_ = p.scope;
      records_at_step_ = last_records_;
    }
    last_records_ = p.records_done;
    if (!tty_) {
      if (step) PlainLine(p);
      return;
    }
    const absl::Time now = absl::Now();
    if (!step && p.phase != Progress::Phase::kDone && now - last_draw_ < absl::Milliseconds(100)) {
      return;
    }
    last_draw_ = now;
    if (p.phase == Progress::Phase::kDone) {
      Clear();
      return;
    }
    std::cerr << "\r\033[K" << BarLine(p) << std::flush;
    drawn_ = true;
  }

  void Clear() {
    if (drawn_) std::cerr << "\r\033[K" << std::flush;
    drawn_ = false;
  }

 private:
  static std::string Bar(std::uint64_t done, std::uint64_t left) {
    constexpr int kWidth = 24;
    const std::uint64_t total = done + left;
    const int filled = total == 0 ? kWidth : static_cast<int>(done * kWidth / total);
    std::string bar = "[";
    for (int i = 0; i < kWidth; ++i) bar += i < filled ? "#" : ".";
    return bar + "]";
  }

  std::string BarLine(const Progress& p) const {
    switch (p.phase) {
      case Progress::Phase::kUpload:
        return absl::StrCat("uploading  ", Bar(p.bytes_done, p.bytes_left), " ",
                            FormatBytes(p.bytes_done), " / ",
                            FormatBytes(p.bytes_done + p.bytes_left));
      case Progress::Phase::kPush:
        return absl::StrCat("pushing    ", Bar(p.records_done, p.records_left), " ", p.records_done,
                            " / ", p.records_done + p.records_left, " edits");
      case Progress::Phase::kPull:
        return absl::StrCat("pulling    ", p.scope, ": ",
                            Plural(p.records_done - records_at_step_, "record", "records"));
      case Progress::Phase::kReceipt:
        return absl::StrCat("checking   the receipt of ", p.scope);
      case Progress::Phase::kDone:
        return "";
    }
    return "";
  }

  static void PlainLine(const Progress& p) {
    switch (p.phase) {
      case Progress::Phase::kUpload:
        std::cerr << "sync: uploading attachments (" << FormatBytes(p.bytes_done + p.bytes_left)
                  << ")\n";
        break;
      case Progress::Phase::kPush:
        std::cerr << "sync: pushing " << Plural(p.records_done + p.records_left, "edit", "edits")
                  << "\n";
        break;
      case Progress::Phase::kPull:
        std::cerr << "sync: pulling " << p.scope << "\n";
        break;
      case Progress::Phase::kReceipt:
        std::cerr << "sync: checking the receipt of " << p.scope << "\n";
        break;
      case Progress::Phase::kDone:
        std::cerr << "sync: done\n";
        break;
    }
  }

  bool tty_;
  bool drawn_ = false;
  Progress::Phase phase_ = Progress::Phase::kDone;
  std::string scope_ = "-";
  std::uint64_t records_at_step_ = 0;
  std::uint64_t last_records_ = 0;
  absl::Time last_draw_ = absl::InfinitePast();
};

JsonObject ParkedJson(const vigil::internal::ParkedMutation& p) {
  JsonObject o;
  o.Str("kind", p.kind())
      .Str("mutation_id", p.mutation().mutation_id())
      .Str("record_id", p.mutation().record_id())
      .Str("code",
           p.code() == 0 ? "" : absl::StatusCodeToString(static_cast<absl::StatusCode>(p.code())))
      .Str("reason", p.reason())
      .Str("message", p.message());
  return o;
}

std::string ParkedLine(const vigil::internal::ParkedMutation& p) {
  std::string line = absl::StrCat("  ", Pad(p.kind(), 16), " edit ", p.mutation().mutation_id(),
                                  " of record ", p.mutation().record_id());
  if (p.code() != 0) {
    absl::StrAppend(&line, ": ", absl::StatusCodeToString(static_cast<absl::StatusCode>(p.code())));
  }
  if (!p.reason().empty()) absl::StrAppend(&line, " ", p.reason());
  if (!p.message().empty()) absl::StrAppend(&line, ": ", p.message());
  return line;
}

}  // namespace

int Follow(const Globals& g, const std::string& scope_arg) {
  absl::StatusOr<std::string> scope = ScopeArg(scope_arg);
  if (!scope.ok()) return Usage(scope.status().message());
  int code = kExitOk;
  auto replica = OpenHome(g, &code);
  if (!replica) return code;
  if (absl::Status s = replica->Follow(*scope); !s.ok()) return Fail("follow", s);
  g.out().Result(JsonObject().Str("scope", *scope).Bool("following", true),
                 absl::StrCat("following ", *scope, "; `vigilctl sync` pulls it"));
  return kExitOk;
}

int Forget(const Globals& g, const std::string& scope_arg) {
  absl::StatusOr<std::string> scope = ScopeArg(scope_arg);
  if (!scope.ok()) return Usage(scope.status().message());
  int code = kExitOk;
  auto replica = OpenHome(g, &code);
  if (!replica) return code;
  absl::StatusOr<std::uint64_t> forgotten = replica->Forget(*scope);
  if (!forgotten.ok()) return Fail("forget", forgotten.status());
  g.out().Result(JsonObject().Str("scope", *scope).Uint("records_removed", *forgotten),
                 absl::StrCat("removed ", *forgotten, " record(s) of ", *scope,
                              " from this device; the server holds them"));
  return kExitOk;
}

namespace {

// Runs `act` on a parked edit of the home and reports `done_field` / `done_text`.
int ActOnParked(const Globals& g, const std::string& mutation_id, absl::string_view what,
                absl::Status (client::Replica::*act)(const std::string&),
                absl::string_view done_field, absl::string_view done_text) {
  int code = kExitOk;
  auto replica = OpenHome(g, &code);
  if (!replica) return code;
  if (absl::Status s = ((*replica).*act)(mutation_id); !s.ok()) return Fail(what, s);
  g.out().Result(JsonObject().Str("mutation_id", mutation_id).Bool(done_field, true),
                 absl::StrCat("edit ", mutation_id, " ", done_text));
  return kExitOk;
}

}  // namespace

int ParkedRequeue(const Globals& g, const std::string& mutation_id) {
  return ActOnParked(g, mutation_id, "requeue the parked edit", &client::Replica::Requeue,
                     "requeued", "is queued again; `vigilctl sync` sends it");
}

int ParkedDrop(const Globals& g, const std::string& mutation_id) {
  return ActOnParked(g, mutation_id, "drop the parked edit", &client::Replica::DropParked,
                     "dropped", "is forgotten on this device");
}

int Sync(const Globals& g, bool free_attachments) {
  int code = kExitOk;
  auto replica = OpenHome(g, &code);
  if (!replica) return code;
  std::optional<vigil::internal::ClientProfile> profile = RequireProfile(g, *replica, &code);
  if (!profile) return code;
  ProgressPrinter printer(::isatty(STDERR_FILENO) == 1);
  absl::StatusOr<client::SyncReport> report =
      replica->Sync(client::SyncOptions(), [&](const Progress& p) { printer(p); });
  printer.Clear();
  if (!report.ok()) {
    return Fail(absl::StrCat("sync with ", profile->server()), report.status());
  }

  absl::StatusOr<std::vector<std::string>> followed = replica->Followed();
  if (!followed.ok()) return Fail("reading the local store", followed.status());
  absl::StatusOr<std::uint64_t> outbox = replica->OutboxSize();
  if (!outbox.ok()) return Fail("reading the local store", outbox.status());
  std::uint64_t open_conflicts = 0;
  std::vector<std::string> conflicted_scopes;
  for (const std::string& scope : *followed) {
    absl::StatusOr<std::vector<vigil::v1::Conflict>> conflicts = replica->Conflicts(scope);
    if (conflicts.ok() && !conflicts->empty()) {
      open_conflicts += conflicts->size();
      conflicted_scopes.push_back(scope);
    }
  }
  std::uint64_t freed = 0;
  if (free_attachments) {
    absl::StatusOr<std::uint64_t> bytes = replica->FreeConfirmedAttachments();
    if (!bytes.ok()) return Fail("freeing confirmed attachments", bytes.status());
    freed = *bytes;
  }

  JsonObject json;
  json.Str("server", profile->server())
      .Uint("pushed", report->pushed)
      .Uint("duplicates", report->duplicates)
      .Uint("pulled", report->pulled)
      .Uint("attachments_uploaded", report->attachments_uploaded)
      .Uint("uploaded_bytes", report->uploaded_bytes)
      .Uint("retries", report->retries)
      .StrList("new_conflict_ids", report->new_conflict_ids);
  std::vector<JsonObject> parked, receipts, errors;
  for (const auto& p : report->parked) parked.push_back(ParkedJson(p));
  for (const auto& r : report->receipts) {
    receipts.push_back(
        JsonObject()
            .Str("scope", r.scope())
            .Uint("seq", r.seq())
            .Uint("records", static_cast<std::uint64_t>(r.records_size()))
            .Uint("attachments", static_cast<std::uint64_t>(r.attachment_sha256_size())));
  }
  for (const auto& [scope, status] : report->scope_errors) {
    errors.push_back(JsonObject()
                         .Str("scope", scope)
                         .Str("code", absl::StatusCodeToString(status.code()))
                         .Str("message", status.message()));
  }
  json.ObjList("parked", parked)
      .StrList("purged_scopes", report->purged_scopes)
      .StrList("recovered", report->recovered)
      .StrList("requeued", report->requeued)
      .ObjList("receipts", receipts)
      .ObjList("scope_errors", errors)
      .Uint("open_conflicts", open_conflicts)
      .StrList("conflicted_scopes", conflicted_scopes)
      .Uint("outbox", *outbox)
      .Uint("freed_bytes", freed);

  std::string text = absl::StrCat(
      "synced with ", profile->server(), "\n  pushed    ", Plural(report->pushed, "edit", "edits"),
      report->duplicates > 0 ? absl::StrCat(" (", report->duplicates, " already applied)") : "",
      "\n  pulled    ", Plural(report->pulled, "record", "records"));
  if (report->attachments_uploaded > 0) {
    absl::StrAppend(&text, "\n  uploaded  ",
                    Plural(report->attachments_uploaded, "attachment", "attachments"), " (",
                    FormatBytes(report->uploaded_bytes), ")");
  }
  if (!report->new_conflict_ids.empty()) {
    absl::StrAppend(&text, "\n  conflicts ",
                    Plural(report->new_conflict_ids.size(), "new conflict", "new conflicts"),
                    " from this device's edits");
  }
  for (const std::string& scope : conflicted_scopes) {
    absl::StrAppend(&text, "\n  open      conflicts in ", scope, ": vigilctl conflicts ", scope);
  }
  if (!report->parked.empty()) {
    absl::StrAppend(&text, "\n  parked    ",
                    Plural(report->parked.size(), "edit was", "edits were"),
                    " not applied (kept on this device: vigilctl status):");
    for (const auto& p : report->parked) absl::StrAppend(&text, "\n  ", ParkedLine(p));
  }
  if (!report->recovered.empty()) {
    absl::StrAppend(&text, "\n  recovered ",
                    Plural(report->recovered.size(), "record", "records"),
                    " the server lost in its restore from backup, sent again from this device");
  }
  if (!report->requeued.empty()) {
    absl::StrAppend(&text, "\n  requeued  ", Plural(report->requeued.size(), "edit", "edits"),
                    " refused for a revision the server had lost, sent again after it");
  }
  for (const std::string& scope : report->purged_scopes) {
    absl::StrAppend(&text, "\n  purged    ", scope,
                    ": this user is no longer on its team; its data was removed from this device");
  }
  for (const auto& r : report->receipts) {
    absl::StrAppend(
        &text, "\n  receipt   ", r.scope(), ": ",
        Plural(static_cast<std::uint64_t>(r.records_size()), "record", "records"), ", ",
        Plural(static_cast<std::uint64_t>(r.attachment_sha256_size()), "attachment", "attachments"),
        " held by the server (signature verified)");
  }
  if (freed > 0) {
    absl::StrAppend(&text, "\n  freed     ", FormatBytes(freed),
                    " of attachment copies the server's receipts confirm");
  }
  if (followed->empty()) {
    absl::StrAppend(&text, "\n  (this home follows no scope yet: vigilctl follow VISIT_ID)");
  }
  if (*outbox > 0) {
    absl::StrAppend(&text, "\n  outbox    ", Plural(*outbox, "edit", "edits"), " still waiting");
  }
  g.out().Result(json, text);

  int exit_code = kExitOk;
  for (const auto& [scope, status] : report->scope_errors) {
    const int c = Fail(absl::StrCat("syncing ", scope), status);
    if (exit_code != kExitDenied) exit_code = c;
  }
  return exit_code;
}

int Status(const Globals& g) {
  int code = kExitOk;
  auto replica = OpenHome(g, &code);
  if (!replica) return code;
  absl::StatusOr<vigil::internal::ClientProfile> profile = replica->Profile();
  JsonObject json;
  json.Str("home", g.home);
  std::string text = absl::StrCat("home      ", g.home);
  if (profile.ok()) {
    json.Str("server", profile->server())
        .Bool("tls", !profile->plaintext())
        .Str("user_id", profile->user_id())
        .Str("device_id", profile->device_id());
    absl::StrAppend(&text, "\nserver    ", profile->server(),
                    profile->plaintext() ? " (plaintext)" : " (TLS)", "\nuser      ",
                    profile->user_id(), ", device ", profile->device_id());
  } else {
    absl::StrAppend(&text, "\nserver    not connected: vigilctl connect, or vigilctl enroll");
  }

  absl::StatusOr<std::vector<std::string>> followed = replica->Followed();
  if (!followed.ok()) return Fail("reading the local store", followed.status());
  std::vector<JsonObject> scopes;
  for (const std::string& scope : *followed) {
    absl::StatusOr<std::vector<client::LocalView>> views = replica->List(scope);
    absl::StatusOr<std::vector<vigil::v1::Conflict>> conflicts = replica->Conflicts(scope);
    absl::StatusOr<std::optional<vigil::v1::ReceiptManifest>> receipt = replica->LastReceipt(scope);
    const std::uint64_t records = views.ok() ? views->size() : 0;
    const std::uint64_t open = conflicts.ok() ? conflicts->size() : 0;
    JsonObject s;
    s.Str("scope", scope).Uint("records", records).Uint("open_conflicts", open);
    std::string line =
        absl::StrCat("\nfollowing ", scope, ": ", Plural(records, "record", "records"), ", ",
                     Plural(open, "open conflict", "open conflicts"));
    if (receipt.ok() && receipt->has_value()) {
      s.Uint("receipt_seq", (*receipt)->seq())
          .Uint("receipt_records", static_cast<std::uint64_t>((*receipt)->records_size()));
      absl::StrAppend(&line, ", last receipt at seq ", (*receipt)->seq());
    }
    scopes.push_back(std::move(s));
    text += line;
  }
  json.ObjList("scopes", scopes);

  absl::StatusOr<std::uint64_t> outbox = replica->OutboxSize();
  if (!outbox.ok()) return Fail("reading the local store", outbox.status());
  json.Uint("outbox", *outbox);
  absl::StrAppend(&text, "\noutbox    ", Plural(*outbox, "edit", "edits"),
                  *outbox > 0 ? " waiting for the next sync" : "");

  absl::StatusOr<std::vector<vigil::internal::ParkedMutation>> parked = replica->Parked();
  if (!parked.ok()) return Fail("reading the parked edits", parked.status());
  std::vector<JsonObject> parked_json;
  for (const auto& p : *parked) parked_json.push_back(ParkedJson(p));
  json.ObjList("parked", parked_json);
  absl::StrAppend(&text, "\nparked    ", Plural(parked->size(), "edit", "edits"),
                  parked->empty() ? "" : " the server did not apply:");
  for (const auto& p : *parked) absl::StrAppend(&text, "\n", ParkedLine(p));

  absl::StatusOr<std::vector<vigil::internal::UploadEntry>> uploads = replica->Uploads();
  if (!uploads.ok()) return Fail("reading the uploads", uploads.status());
  std::uint64_t waiting = 0, waiting_bytes = 0, uploaded = 0, confirmed = 0, freed = 0;
  std::vector<JsonObject> uploads_json;
  for (const auto& u : *uploads) {
    uploads_json.push_back(JsonObject()
                               .Str("sha256", u.sha256())
                               .Uint("size", u.size())
                               .Str("scope", u.scope())
                               .Bool("uploaded", u.uploaded())
                               .Bool("confirmed", u.confirmed())
                               .Bool("freed", u.freed()));
    if (u.freed()) {
      ++freed;
    } else if (u.confirmed()) {
      ++confirmed;
    } else if (u.uploaded()) {
      ++uploaded;
    } else {
      ++waiting;
      waiting_bytes += u.size();
    }
  }
  json.ObjList("uploads", uploads_json);
  absl::StrAppend(&text, "\nuploads   ", waiting, " waiting (", FormatBytes(waiting_bytes), "), ",
                  uploaded, " uploaded, ", confirmed, " confirmed by a receipt, ", freed, " freed");
  g.out().Result(json, text);
  return kExitOk;
}

}  // namespace vigil::vigilctl
