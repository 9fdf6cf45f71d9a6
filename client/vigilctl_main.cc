// vigilctl: the command line of Vigil for operators and field teams. A thin
// main: it parses the command line (CLI11) and calls one command function
// (vigilctl_commands.h). README.md, section "vigilctl", is the reference.
//
// Exit codes: 0 success, 1 failure (server unreachable, request refused,
// local I/O), 2 bad command line, 3 done but a person must look (conflicts
// remain, audit chain broken), 4 not authenticated or not permitted.
#include <sodium.h>

#include <cstdlib>
#include <functional>
#include <iostream>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "client/vigilctl_commands.h"
#include "client/vigilctl_values.h"
#include "grpc/support/log.h"
#include "vigil/v1/admin.pb.h"
#include "vigil/v1/finding.pb.h"
#include "vigil/v1/interview.pb.h"
#include "vigil/v1/visit.pb.h"

namespace {

using namespace vigil::vigilctl;

// An option whose absence matters (an edit changes only what is given). One
// Flag may be bound in several subcommands; one of them is parsed.
template <typename T>
struct Flag {
  T value{};
  std::vector<CLI::Option*> options;
  std::optional<T> get() const {
    for (const CLI::Option* o : options) {
      if (o->count() > 0) return value;
    }
    return std::nullopt;
  }
};

template <typename T>
CLI::Option* Add(CLI::App* app, const std::string& name, Flag<T>& flag, const std::string& help) {
  flag.options.push_back(app->add_option(name, flag.value, help));
  return flag.options.back();
}

// A repeatable option: one value per occurrence (so that it never swallows a
// positional argument after it).
CLI::Option* AddList(CLI::App* app, const std::string& name, std::vector<std::string>& values,
                     const std::string& help) {
  return app->add_option(name, values, help)->allow_extra_args(false);
}


std::string DefaultHome() {
  if (const char* home = std::getenv("VIGILCTL_HOME"); home != nullptr && *home != '\0') {
    return home;
  }
  const char* user_home = std::getenv("HOME");
  return absl::StrCat(user_home != nullptr ? user_home : ".", "/.vigilctl");
}

struct ServerOptions {
  ServerFlags flags;
  std::vector<CLI::Option*> options;
  bool given() const {
    for (const auto* o : options) {
      if (o->count() > 0) return true;
    }
    return false;
  }
};

void AddServerFlags(CLI::App* app, ServerOptions& s) {
  s.options = {
      app->add_option("--server", s.flags.server, "HOST:PORT of vigild (default 127.0.0.1:7443)"),
      app->add_option("--ca", s.flags.ca,
                      "CA certificate to trust: vigild's DATA_DIR/tls/ca.crt (default "
                      "vigil-data/tls/ca.crt)"),
      app->add_flag("--plaintext", s.flags.plaintext,
                    "no TLS (development server on this machine, vigild --plaintext-loopback)"),
      app->add_option("--client-cert", s.flags.client_cert, "client certificate (mutual TLS)"),
      app->add_option("--client-key", s.flags.client_key, "client key (mutual TLS)")};
}

// Everything the command line can hold, bound before parsing.
struct Args {
  ServerOptions server;
  std::string token_file, code, device_name;
  std::string user_id, role, display_name, device_id, visit, data_dir, backup_dir, key_file,
      out_file, scope, record_id, conflict_id, mutation_id;
  std::uint32_t ttl = 0;
  Flag<std::uint32_t> backup_id;
  Flag<int> take;
  Flag<std::string> value;
  // finding
  Flag<std::string> title, narrative, narrative_file, severity, category, subcategory, location;
  bool good_practice_flag = false;
  Flag<bool> good_practice;
  std::vector<std::string> append_lines, tags, remove_tags, evidence;
  // interview
  Flag<std::string> pseudonym, kind, interpreter, notes, notes_file, conducted_at, consent;
  bool reprisal_flag = false;
  Flag<bool> reprisal;
  std::vector<std::string> vulnerabilities, remove_vulnerabilities, interviewers;
  // attach
  AttachArgs attach;

  FindingArgs Finding() const {
    FindingArgs f;
    f.visit = visit;
    f.id = record_id;
    f.title = title.get();
    f.narrative = narrative.get();
    f.narrative_file = narrative_file.get();
    f.severity = severity.get();
    f.category = category.get();
    f.subcategory = subcategory.get();
    f.location = location.get();
    f.good_practice = good_practice.get();
    if (good_practice_flag) f.good_practice = true;
    f.append_lines = append_lines;
    f.add_tags = tags;
    f.remove_tags = remove_tags;
    f.add_evidence = evidence;
    return f;
  }

  InterviewArgs Interview() const {
    InterviewArgs i;
    i.visit = visit;
    i.id = record_id;
    i.pseudonym = pseudonym.get();
    i.kind = kind.get();
    i.interpreter_language = interpreter.get();
    i.location = location.get();
    i.notes = notes.get();
    i.notes_file = notes_file.get();
    i.conducted_at = conducted_at.get();
    i.consent = consent.get();
    i.reprisal_watch = reprisal.get();
    if (reprisal_flag) i.reprisal_watch = true;
    i.append_lines = append_lines;
    i.add_vulnerabilities = vulnerabilities;
    i.remove_vulnerabilities = remove_vulnerabilities;
    i.interviewers = interviewers;
    return i;
  }
};

void AddFindingFields(CLI::App* c, Args& a) {
  Add(c, "--narrative", a.narrative, "narrative text (merged line by line)");
  Add(c, "--narrative-file", a.narrative_file, "read the narrative from a file");
  Add(c, "--severity", a.severity, OneOf<vigil::v1::Severity>("severity"));
  Add(c, "--category", a.category, OneOf<vigil::v1::FindingCategory>("category"));
  Add(c, "--subcategory", a.subcategory, "subcategory");
  Add(c, "--location", a.location, "where in the facility (wing, block, room)");
}

void AddInterviewFields(CLI::App* c, Args& a) {
  Add(c, "--kind", a.kind, OneOf<vigil::v1::InterviewKind>("kind"));
  Add(c, "--interpreter", a.interpreter, "language of the interpreter present (\"\": none)");
  Add(c, "--location", a.location, "where the interview took place");
  Add(c, "--notes", a.notes, "notes (merged line by line)");
  Add(c, "--notes-file", a.notes_file, "read the notes from a file");
  Add(c, "--conducted-at", a.conducted_at, "RFC 3339 time or \"now\"");
  Add(c, "--consent", a.consent,
      "what the person agreed to, comma-separated: record, quote, transmit, photo (or none)");
}

}  // namespace

int main(int argc, char** argv) {
  // gRPC's own log lines (e.g. a failed TLS handshake) would repeat, less
  // plainly, what the failing command prints; VIGILCTL_GRPC_LOG keeps them.
  if (std::getenv("VIGILCTL_GRPC_LOG") == nullptr) gpr_set_log_function([](gpr_log_func_args*) {});
  if (sodium_init() < 0) {
    std::cerr << "vigilctl: libsodium did not initialise\n";
    return kExitFailure;
  }
  CLI::App app{
      "vigilctl: the command line of Vigil, for operators (accounts, teams, keys, audit, "
      "backups) and field teams (a tablet's local store: record, sync, resolve conflicts).\n"
      "Exit codes: 0 ok, 1 failure, 2 bad usage, 3 conflicts remain or audit chain broken, "
      "4 not authenticated or not permitted."};
  app.fallthrough();
  app.require_subcommand(1);
  Globals g;
  g.home = DefaultHome();
  app.add_option("--home", g.home,
                 "profile and local store (default $VIGILCTL_HOME, else ~/.vigilctl)");
  if (const char* file = std::getenv("VIGILCTL_PASSPHRASE_FILE"); file != nullptr) {
    g.passphrase_file = file;
  }
  app.add_option("--passphrase-file", g.passphrase_file,
                 "seal the home's store by the passphrase on this file's first line (Argon2id); "
                 "default $VIGILCTL_PASSPHRASE_FILE, else a key file in the home");
  app.add_flag("--json", g.json, "machine output: one JSON object per result, one per line");

  Args a;
  std::function<int()> run;
  auto on = [&run](CLI::App* command, std::function<int()> action) {
    command->callback([&run, action] { run = action; });
  };

  // --- Connection. ---
  auto* connect = app.add_subcommand(
      "connect", "store an admin's or reviewer's token in the home (checked with WhoAmI)");
  AddServerFlags(connect, a.server);
  connect->add_option("--token-file", a.token_file, "file holding the token")->required();
  on(connect, [&] { return Connect(g, a.server.flags, a.token_file); });

  auto* enroll = app.add_subcommand("enroll", "enroll the home as a device with a one-time code");
  AddServerFlags(enroll, a.server);
  enroll->add_option("--code", a.code, "enrollment code (vigilctl code create)")->required();
  enroll->add_option("--name", a.device_name, "device name, e.g. \"Tablet 3\"")->required();
  on(enroll, [&] { return Enroll(g, a.server.flags, a.code, a.device_name); });

  auto* health = app.add_subcommand(
      "health", "is the server serving, and whom does the home's credential belong to");
  AddServerFlags(health, a.server);
  on(health, [&] { return Health(g, a.server.given() ? &a.server.flags : nullptr); });

  auto* new_id = app.add_subcommand("new-id", "print a fresh record id (UUIDv7), e.g. for a visit");
  on(new_id, [&] { return PrintNewId(g); });

  // --- Administration. ---
  auto* user = app.add_subcommand("user", "user accounts (admin)");
  user->require_subcommand(1);
  auto* user_create = user->add_subcommand("create", "create a user");
  user_create->add_option("user_id", a.user_id, "login name: [a-z0-9._-], 2..64")->required();
  user_create->add_option("--role", a.role, OneOf<vigil::v1::Role>("role"))->required();
  user_create->add_option("--name", a.display_name, "display name");
  on(user_create, [&] { return UserCreate(g, a.user_id, a.role, a.display_name); });
  auto* user_list = user->add_subcommand("list", "list users");
  on(user_list, [&] { return UserList(g); });
  auto* user_disable = user->add_subcommand("disable", "refuse every device of a user");
  user_disable->add_option("user_id", a.user_id, "user")->required();
  on(user_disable, [&] { return UserSetDisabled(g, a.user_id, true); });
  auto* user_enable = user->add_subcommand("enable", "enable a disabled user again");
  user_enable->add_option("user_id", a.user_id, "user")->required();
  on(user_enable, [&] { return UserSetDisabled(g, a.user_id, false); });

  auto* code = app.add_subcommand("code", "enrollment codes (admin)");
  code->require_subcommand(1);
  auto* code_create = code->add_subcommand("create", "a one-time code that enrolls one device");
  code_create->add_option("user_id", a.user_id, "the user the device will belong to")->required();
  code_create->add_option("--ttl", a.ttl,
                          "seconds the code stays valid (default 900, at most 86400)");
  on(code_create, [&] { return CodeCreate(g, a.user_id, a.ttl); });

  auto* device = app.add_subcommand("device", "enrolled devices (admin)");
  device->require_subcommand(1);
  auto* device_list = device->add_subcommand("list", "list devices");
  device_list->add_option("--user", a.user_id, "only this user's devices");
  on(device_list, [&] { return DeviceList(g, a.user_id); });
  auto* device_revoke = device->add_subcommand("revoke", "refuse a device from its next call");
  device_revoke->add_option("device_id", a.device_id, "device id")->required();
  on(device_revoke, [&] { return DeviceRevoke(g, a.device_id); });

  auto* team = app.add_subcommand("team", "visit teams (admin)");
  team->require_subcommand(1);
  auto* team_add = team->add_subcommand("add", "put a user on a visit's team (or change the role)");
  team_add->add_option("visit_id", a.visit, "visit id")->required();
  team_add->add_option("user_id", a.user_id, "user")->required();
  team_add->add_option("--role", a.role, OneOf<vigil::v1::TeamRole>("team role"))->required();
  on(team_add, [&] { return TeamAdd(g, a.visit, a.user_id, a.role); });
  auto* team_remove = team->add_subcommand("remove", "take a user off a visit's team");
  team_remove->add_option("visit_id", a.visit, "visit id")->required();
  team_remove->add_option("user_id", a.user_id, "user")->required();
  on(team_remove, [&] { return TeamRemove(g, a.visit, a.user_id); });
  auto* team_list = team->add_subcommand("list", "list a visit's team");
  team_list->add_option("visit_id", a.visit, "visit id")->required();
  on(team_list, [&] { return TeamList(g, a.visit); });

  auto* key = app.add_subcommand("key", "data keys (admin)");
  key->require_subcommand(1);
  auto* key_rotate =
      key->add_subcommand("rotate", "make a new data key current, re-encrypt the rest");
  on(key_rotate, [&] { return KeyRotate(g); });

  auto* audit = app.add_subcommand("audit", "the hash-chained audit log (admin)");
  audit->require_subcommand(1);
  auto* audit_verify = audit->add_subcommand("verify", "verify the chain (exit 3 when broken)");
  on(audit_verify, [&] { return AuditVerify(g); });
  auto* audit_export = audit->add_subcommand("export", "every entry as JSON lines");
  audit_export->add_option("--out", a.out_file, "write to this file (default stdout)");
  on(audit_export, [&] { return AuditExport(g, a.out_file); });

  auto* backup = app.add_subcommand(
      "backup", "online backup by the vigild running on DATA_DIR (on the server's host)");
  backup->add_option("--data-dir", a.data_dir, "vigild's data directory")->required();
  backup->add_option("--to", a.backup_dir, "backup directory")->required();
  on(backup, [&] { return Backup(g, a.data_dir, a.backup_dir); });

  auto* restore = app.add_subcommand(
      "restore", "restore a backup into a new data directory (no server running on it)");
  restore->add_option("--from", a.backup_dir, "backup directory")->required();
  restore->add_option("--data-dir", a.data_dir, "new (missing or empty) data directory")
      ->required();
  Add(restore, "--backup-id", a.backup_id, "backup id (default: the newest)");
  restore->add_option("--key-file", a.key_file,
                      "copy this data key file into DATA_DIR/keys/data.key");
  on(restore, [&] { return Restore(g, a.backup_dir, a.data_dir, a.backup_id.get(), a.key_file); });

  // --- Field work. ---
  auto* follow = app.add_subcommand("follow", "sync a scope from now on");
  follow->add_option("scope", a.scope, "VISIT_ID, visits/ID, facilities/ID or registry")
      ->required();
  on(follow, [&] { return Follow(g, a.scope); });

  auto* forget = app.add_subcommand(
      "forget", "remove a scope from this device once the server verifiably holds all of it");
  forget->add_option("scope", a.scope, "VISIT_ID, visits/ID, facilities/ID or registry")
      ->required();
  on(forget, [&] { return Forget(g, a.scope); });

  auto* sync = app.add_subcommand(
      "sync", "push local edits and attachments, pull every followed scope, check receipts");
  sync->alias("pull");
  bool free_attachments = false;
  sync->add_flag("--free-attachments", free_attachments,
                 "then delete the local copies of attachments a verified receipt covers");
  on(sync, [&] { return Sync(g, free_attachments); });

  auto* status = app.add_subcommand(
      "status", "the home: server, followed scopes, outbox, parked edits, uploads");
  status->alias("outbox");
  on(status, [&] { return Status(g); });

  auto* parked = app.add_subcommand("parked", "edits the server refused (see status)");
  parked->require_subcommand(1);
  auto* parked_requeue = parked->add_subcommand(
      "requeue", "send a refused edit again with the next sync, once what refused it is mended");
  parked_requeue->add_option("mutation_id", a.mutation_id, "the edit's id, as status shows it")
      ->required();
  on(parked_requeue, [&] { return ParkedRequeue(g, a.mutation_id); });
  auto* parked_drop = parked->add_subcommand("drop", "forget a refused edit on this device");
  parked_drop->add_option("mutation_id", a.mutation_id, "the edit's id, as status shows it")
      ->required();
  on(parked_drop, [&] { return ParkedDrop(g, a.mutation_id); });

  std::string facility_name, facility_type = "other", visit_type = "in-depth", objectives;
  std::string facility_of_visit;
  std::uint32_t capacity = 0;
  bool unannounced = false;
  auto* facility = app.add_subcommand("facility", "the registry's facilities (sent by sync)");
  facility->require_subcommand(1);
  auto* facility_create = facility->add_subcommand("create", "add a facility to the registry");
  facility_create->add_option("--name", facility_name, "name")->required();
  facility_create->add_option("--type", facility_type, OneOf<vigil::v1::FacilityType>("type"));
  facility_create->add_option("--capacity", capacity, "official capacity");
  on(facility_create, [&] { return FacilityCreate(g, facility_name, facility_type, capacity); });
  std::string authority_name, authority_parent;
  auto* authority = app.add_subcommand("authority", "the registry's authorities (sent by sync)");
  authority->require_subcommand(1);
  auto* authority_create = authority->add_subcommand("create", "add an authority to the registry");
  authority_create->add_option("--name", authority_name, "name")->required();
  authority_create->add_option("--parent", authority_parent, "parent authority record id");
  on(authority_create, [&] { return AuthorityCreate(g, authority_name, authority_parent); });
  auto* visit_cmd = app.add_subcommand("visit", "visit records (sent by sync)");
  visit_cmd->require_subcommand(1);
  auto* visit_create = visit_cmd->add_subcommand(
      "create", "create the Visit record (planned) in its scope visits/ID");
  visit_create->add_option("visit", a.visit, "visit id (vigilctl new-id)")->required();
  visit_create->add_option("--facility", facility_of_visit, "facility record id")->required();
  visit_create->add_option("--type", visit_type, OneOf<vigil::v1::VisitType>("type"));
  visit_create->add_flag("--unannounced", unannounced, "an unannounced visit");
  visit_create->add_option("--objectives", objectives, "objectives (merged line by line)");
  on(visit_create, [&] {
    return VisitCreate(g, a.visit, facility_of_visit, visit_type, unannounced, objectives);
  });

  auto* finding = app.add_subcommand("finding", "findings (local edits, sent by sync)");
  finding->require_subcommand(1);
  auto* finding_create = finding->add_subcommand("create", "record a finding");
  finding_create->add_option("--visit", a.visit, "visit id")->required();
  Add(finding_create, "--title", a.title, "title")->required();
  AddFindingFields(finding_create, a);
  finding_create->add_flag("--good-practice", a.good_practice_flag,
                           "a good practice, not a problem");
  AddList(finding_create, "--tag", a.tags, "tag (repeatable)");
  AddList(finding_create, "--evidence", a.evidence, "attachment record id (repeatable)");
  on(finding_create, [&] { return FindingCreate(g, a.Finding()); });
  auto* finding_edit = finding->add_subcommand("edit", "change a finding (only what is given)");
  finding_edit->add_option("record_id", a.record_id, "finding id")->required();
  Add(finding_edit, "--title", a.title, "new title");
  AddFindingFields(finding_edit, a);
  AddList(finding_edit, "--append-line", a.append_lines,
          "add a line to the narrative (repeatable)");
  Add(finding_edit, "--good-practice", a.good_practice, "true or false");
  AddList(finding_edit, "--add-tag", a.tags, "tag to add (repeatable)");
  AddList(finding_edit, "--remove-tag", a.remove_tags, "tag to remove (repeatable)");
  AddList(finding_edit, "--add-evidence", a.evidence, "attachment record id (repeatable)");
  on(finding_edit, [&] { return FindingEdit(g, a.Finding()); });

  auto* interview = app.add_subcommand("interview", "interviews (local edits, sent by sync)");
  interview->require_subcommand(1);
  auto* interview_create = interview->add_subcommand("create", "record an interview");
  interview_create->add_option("--visit", a.visit, "visit id")->required();
  Add(interview_create, "--pseudonym", a.pseudonym, "pseudonym, never a name")->required();
  AddInterviewFields(interview_create, a);
  interview_create->add_flag("--reprisal-watch", a.reprisal_flag,
                             "the person fears reprisals: follow up on every visit");
  AddList(interview_create, "--vulnerability", a.vulnerabilities,
          OneOf<vigil::v1::VulnerabilityTag>("vulnerability (repeatable)"));
  AddList(interview_create, "--interviewer", a.interviewers,
          "interviewer user id (repeatable; default: this home's user)");
  on(interview_create, [&] { return InterviewCreate(g, a.Interview()); });
  auto* interview_edit =
      interview->add_subcommand("edit", "change an interview (only what is given)");
  interview_edit->add_option("record_id", a.record_id, "interview id")->required();
  Add(interview_edit, "--pseudonym", a.pseudonym, "pseudonym");
  AddInterviewFields(interview_edit, a);
  AddList(interview_edit, "--append-line", a.append_lines, "add a line to the notes (repeatable)");
  Add(interview_edit, "--reprisal-watch", a.reprisal, "true or false");
  AddList(interview_edit, "--add-vulnerability", a.vulnerabilities, "vulnerability to add");
  AddList(interview_edit, "--remove-vulnerability", a.remove_vulnerabilities,
          "vulnerability to remove");
  AddList(interview_edit, "--add-interviewer", a.interviewers, "interviewer user id to add");
  on(interview_edit, [&] { return InterviewEdit(g, a.Interview()); });

  auto* attach = app.add_subcommand("attach", "add a photo, scan or recording to a visit");
  attach->add_option("file", a.attach.file, "the file")->required();
  attach->add_option("--visit", a.attach.visit, "visit id")->required();
  attach->add_option("--caption", a.attach.caption, "caption");
  attach->add_option("--media-type", a.attach.media_type,
                     "e.g. image/jpeg (default: by extension)");
  attach->add_flag("--identifiable", a.attach.identifiable,
                   "shows a face, a name, or anything that identifies a person");
  attach->add_option("--consent-interview", a.attach.consent_interview_id,
                     "interview whose consent covers it");
  AddList(attach, "--tag", a.attach.tags, "tag (repeatable)");
  on(attach, [&] { return Attach(g, a.attach); });

  auto* show = app.add_subcommand("show", "the records of a visit on this device");
  show->add_option("visit_id", a.scope, "visit id")->required();
  on(show, [&] { return ListScope(g, a.scope); });
  auto* list = app.add_subcommand("list", "the records of a scope on this device");
  list->add_option("scope", a.scope, "VISIT_ID, visits/ID, facilities/ID or registry")->required();
  on(list, [&] { return ListScope(g, a.scope); });
  auto* show_record = app.add_subcommand("show-record", "one record, its fields and conflicts");
  show_record->add_option("record_id", a.record_id, "record id")->required();
  on(show_record, [&] { return ShowRecord(g, a.record_id); });

  auto* conflicts = app.add_subcommand(
      "conflicts", "open conflicts of a visit, side by side (exit 3 when there are any)");
  conflicts->add_option("visit_id", a.scope, "visit id or scope")->required();
  on(conflicts, [&] { return Conflicts(g, a.scope); });

  auto* resolve = app.add_subcommand("resolve", "settle a conflict (sent by the next sync)");
  resolve->add_option("record_id", a.record_id, "record id")->required();
  resolve->add_option("conflict_id", a.conflict_id, "conflict id")->required();
  auto* o_take = Add(resolve, "--take", a.take, "take side N: 0 the base, 1.. the versions");
  auto* o_value = Add(resolve, "--value", a.value, "set the field to this value instead");
  o_take->excludes(o_value);
  on(resolve, [&] { return Resolve(g, a.record_id, a.conflict_id, a.take.get(), a.value.get()); });

  // --- Review (the NPM unit). ---
  AddRecommendationCommands(app, g, on);
  AddReportCommands(app, g, on);

  auto* review = app.add_subcommand("review", "the NPM unit's desk: queue, visits, moves");
  review->require_subcommand(1);
  std::string review_state, review_reviewer, review_note, review_etag, review_announced;
  bool review_ack = false;
  ReviewFilterArgs filter;
  auto* review_queue = review->add_subcommand(
      "queue", "visits submitted, in review or sent back, oldest submission first");
  review_queue->add_option("--state", review_state, "submitted, in-review or changes-requested");
  review_queue->add_option("--reviewer", review_reviewer, "taken by this reviewer");
  on(review_queue, [&] { return ReviewQueue(g, review_state, review_reviewer); });
  auto* review_visits = review->add_subcommand("visits", "visits you may read, filtered");
  review_visits->add_option("--facility", filter.facility_id, "facility record id");
  review_visits->add_option("--state", filter.state, OneOf<vigil::v1::VisitState>("state"));
  review_visits->add_option("--type", filter.type, OneOf<vigil::v1::VisitType>("type"));
  review_visits->add_option("--member", filter.member, "with this user on the team");
  review_visits->add_option("--reviewer", filter.reviewer, "taken by this reviewer");
  review_visits->add_option("--announced", review_announced, "yes or no");
  on(review_visits, [&] {
    if (review_announced == "yes") filter.announced = true;
    if (review_announced == "no") filter.announced = false;
    if (!review_announced.empty() && !filter.announced.has_value()) {
      return Usage("--announced: yes or no");
    }
    return ReviewVisits(g, filter);
  });
  auto* review_visit = review->add_subcommand(
      "visit", "one visit: state, the moves you may make, team, counts, transitions");
  review_visit->add_option("visit", a.visit, "visit id")->required();
  on(review_visit, [&] { return ReviewVisit(g, a.visit); });
  std::string review_late_visit, review_comment_record;
  auto* review_late = review->add_subcommand(
      "late", "late submissions held for approved visits, with what each changes");
  review_late->add_option("visit", review_late_visit, "visit id (default: every visit)");
  bool review_late_decided = false;
  review_late->add_flag("--decided", review_late_decided,
                        "the decided ones (accepted, rejected) instead of those waiting");
  on(review_late, [&] { return ReviewLate(g, review_late_visit, review_late_decided); });
  std::string mark_record, mark_state, mark_question, mark_etag;
  auto* review_mark = review->add_subcommand(
      "mark", "mark a record of a visit: accepted, or a question the team answers on the tablet");
  review_mark->add_option("record", mark_record, "record id")->required();
  review_mark->add_option("state", mark_state, "accept or question")
      ->required()
      ->check(CLI::IsMember({"accept", "question"}));
  review_mark->add_option("--question", mark_question, "the question (required for question)");
  review_mark->add_option("--etag", mark_etag, "the etag as read (refused if stale)");
  on(review_mark,
     [&] { return ReviewMark(g, mark_record, mark_state, mark_question, mark_etag); });
  auto* review_record =
      review->add_subcommand("record", "one record as the server holds it, with its review mark");
  review_record->add_option("record", mark_record, "record id")->required();
  on(review_record, [&] { return ReviewRecord(g, mark_record); });
  ConflictFilterArgs conflict_filter;
  auto* review_conflicts = review->add_subcommand(
      "conflicts", "open conflicts across visits, oldest first (those of visits you may read)");
  review_conflicts->add_option("--visit", conflict_filter.visit, "only this visit");
  review_conflicts->add_option("--facility", conflict_filter.facility,
                               "only visits to this facility");
  review_conflicts->add_option("--kind", conflict_filter.kind, "only records of this kind");
  review_conflicts->add_option("--path", conflict_filter.path, "only at or under this field path");
  on(review_conflicts, [&] { return ReviewConflicts(g, conflict_filter); });
  std::string conflict_name, resolve_reason;
  auto* review_conflict =
      review->add_subcommand("conflict", "one conflict side by side, with its record");
  review_conflict->add_option("name", conflict_name, "conflicts/ID, as listed")->required();
  on(review_conflict, [&] { return ReviewConflict(g, conflict_name); });
  std::optional<int> resolve_take;
  std::optional<std::string> resolve_value;
  auto* review_resolve = review->add_subcommand(
      "resolve", "resolve a conflict from the desk: take a side, or write a new value");
  review_resolve->add_option("name", conflict_name, "conflicts/ID, as listed")->required();
  auto* take_opt = review_resolve->add_option("--take", resolve_take, "the side to keep (0: base)");
  review_resolve->add_option("--value", resolve_value, "the new value")->excludes(take_opt);
  review_resolve->add_option("--reason", resolve_reason, "why (kept as a comment)")->required();
  on(review_resolve, [&] {
    return ReviewResolve(g, conflict_name, resolve_take, resolve_value, resolve_reason);
  });
  FindingFilterArgs finding_filter;
  auto* review_findings = review->add_subcommand(
      "findings", "findings of the visits you may read, filtered (oldest first)");
  review_findings->add_option("--visit", finding_filter.visit, "only this visit");
  review_findings->add_option("--facility", finding_filter.facility,
                              "only visits to this facility");
  review_findings->add_option("--category", finding_filter.category,
                              OneOf<vigil::v1::FindingCategory>("category"));
  review_findings->add_option("--subcategory", finding_filter.subcategory, "subcategory");
  review_findings->add_option("--severity", finding_filter.severity,
                              OneOf<vigil::v1::Severity>("severity"));
  review_findings->add_option("--good-practice", finding_filter.good_practice, "yes or no");
  review_findings->add_option("--mark", finding_filter.mark,
                              OneOf<vigil::v1::ReviewMarkState>("review mark"));
  review_findings->add_option("--from", finding_filter.from, "visits from this day (YYYY-MM-DD)");
  review_findings->add_option("--to", finding_filter.to, "visits up to this day (YYYY-MM-DD)");
  on(review_findings, [&] { return ReviewFindings(g, finding_filter); });
  InterviewFilterArgs interview_filter;
  auto* review_interviews = review->add_subcommand(
      "interviews", "interviews' metadata (kind, tags, reprisal watch, consent), filtered");
  review_interviews->add_option("--visit", interview_filter.visit, "only this visit");
  review_interviews->add_option("--facility", interview_filter.facility,
                                "only visits to this facility");
  review_interviews->add_option("--kind", interview_filter.kind,
                                OneOf<vigil::v1::InterviewKind>("kind"));
  review_interviews->add_option("--vulnerability", interview_filter.vulnerability,
                                OneOf<vigil::v1::VulnerabilityTag>("tag"));
  review_interviews->add_option("--reprisal-watch", interview_filter.reprisal_watch, "yes or no");
  review_interviews->add_option("--quote-consent", interview_filter.quote_consent, "yes or no");
  review_interviews->add_flag("--notes", interview_filter.notes,
                              "with the notes, where you may read them");
  on(review_interviews, [&] { return ReviewInterviews(g, interview_filter); });
  std::string history_facility;
  auto* review_facility = review->add_subcommand(
      "facility", "a facility's history: visits, findings by category, occupancy");
  review_facility->add_option("facility_id", history_facility, "facility id")->required();
  on(review_facility, [&] { return ReviewFacility(g, history_facility); });
  ParallelFilterArgs parallel_filter;
  auto* review_parallel = review->add_subcommand(
      "parallel", "parallel updates: concurrent edits sync merged cleanly, oldest first");
  review_parallel->add_option("--visit", parallel_filter.visit, "only this visit");
  review_parallel->add_option("--kind", parallel_filter.kind, "only records of this kind");
  review_parallel->add_flag("--checked", parallel_filter.checked,
                            "the checked ones (default: those not checked yet)");
  on(review_parallel, [&] { return ReviewParallel(g, parallel_filter); });
  std::string parallel_name, parallel_etag;
  auto* review_parallel_update = review->add_subcommand(
      "parallel-update", "one parallel update: base, both sides and the merge, field by field");
  review_parallel_update->add_option("name", parallel_name, "parallelUpdates/ID, as listed")
      ->required();
  on(review_parallel_update, [&] { return ReviewParallelUpdate(g, parallel_name); });
  auto* review_check =
      review->add_subcommand("check", "mark a parallel update checked (reviewers)");
  review_check->add_option("name", parallel_name, "parallelUpdates/ID, as listed")->required();
  review_check->add_option("--etag", parallel_etag, "the etag as read (refused if stale)");
  on(review_check, [&] { return ReviewCheck(g, parallel_name, parallel_etag); });
  std::string decide_name, decide_outcome, decide_reason, decide_etag;
  auto* review_decide = review->add_subcommand(
      "decide", "accept (apply now, merged with the head) or reject (keep, with a reason) a "
                "late submission");
  review_decide->add_option("name", decide_name, "visits/V/lateSubmissions/M, as listed")
      ->required();
  review_decide->add_option("outcome", decide_outcome, "accept or reject")
      ->required()
      ->check(CLI::IsMember({"accept", "reject"}));
  review_decide->add_option("--reason", decide_reason, "why (required to reject)");
  review_decide->add_option("--etag", decide_etag, "the etag as listed (refused if stale)");
  on(review_decide, [&] {
    return ReviewDecide(g, decide_name, decide_outcome, decide_reason, decide_etag);
  });
  auto* review_comments = review->add_subcommand("comments", "a visit's comments, threaded");
  review_comments->add_option("visit", a.visit, "visit id")->required();
  review_comments->add_option("--record", review_comment_record, "only about this record");
  on(review_comments, [&] { return ReviewComments(g, a.visit, review_comment_record); });
  CommentArgs comment_args;
  auto* review_comment = review->add_subcommand(
      "comment", "comment on a record of a visit, or reply to a comment (the team pulls it)");
  review_comment->add_option("visit", a.visit, "visit id")->required();
  review_comment->add_option("--record", comment_args.record, "the record commented on");
  review_comment->add_option("--field", comment_args.field, "the field commented on");
  review_comment->add_option("--reply-to", comment_args.reply_to, "the comment answered");
  review_comment->add_option("--text", comment_args.text, "the comment")->required();
  on(review_comment, [&] { return ReviewComment(g, a.visit, comment_args); });
  auto* review_move = review->add_subcommand(
      "move", "move a visit along its lifecycle (submit, take, send back, approve, publish)");
  review_move->add_option("visit", a.visit, "visit id")->required();
  review_move->add_option("state", review_state, OneOf<vigil::v1::VisitState>("state"))
      ->required();
  review_move->add_option("--note", review_note,
                          "the team's questions (sending back) or the reason (reopening)");
  review_move->add_flag("--acknowledge-conflicts", review_ack,
                        "submit although the visit's records have open conflicts");
  review_move->add_option("--etag", review_etag, "refuse if the visit changed since this etag");
  on(review_move, [&] {
    return ReviewMove(g, a.visit, review_state, review_note, review_ack, review_etag);
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  if (!run) return Usage("no command given");
  return run();
}
