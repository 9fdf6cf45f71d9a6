// vigilctl's commands, one function each: vigilctl_main.cc parses the
// command line and calls them. Each prints its result (Output) and its
// errors (Fail, Usage) and returns the process exit code (vigilctl_output.h).
#ifndef VIGIL_CLIENT_VIGILCTL_COMMANDS_H_
#define VIGIL_CLIENT_VIGILCTL_COMMANDS_H_

#include <cstdint>
#include <memory>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "client/channel.h"
#include "client/replica.h"
#include "client/vigilctl_output.h"
#include "vigil/v1/admin.grpc.pb.h"

namespace CLI {
class App;
}  // namespace CLI

namespace vigil::vigilctl {

// Flags every command takes.
struct Globals {
  // The profile and local store ($VIGILCTL_HOME, else ~/.vigilctl).
  std::string home;
  // A file whose first line is the passphrase the home's store is sealed
  // by ($VIGILCTL_PASSPHRASE_FILE); empty: a key file in the home.
  std::string passphrase_file;
  bool json = false;
  Output out() const { return Output(json); }
};

// Where the server is and how to trust it.
struct ServerFlags {
  std::string server = "127.0.0.1:7443";
  // vigild's generated CA (DATA_DIR/tls/ca.crt); unused with `plaintext`.
  std::string ca = "vigil-data/tls/ca.crt";
  bool plaintext = false;
  // Optional client certificate and key (mutual TLS).
  std::string client_cert;
  std::string client_key;
};

// --- Session helpers (vigilctl_session.cc). ---

// The home's store, created when missing; nullptr after printing why, with
// the exit code in `*exit_code`.
std::unique_ptr<client::Replica> OpenHome(const Globals& g, int* exit_code);
// The home's credential; nullopt after printing how to get one (exit 4).
std::optional<vigil::internal::ClientProfile> RequireProfile(const Globals& g,
                                                             const client::Replica& replica,
                                                             int* exit_code);
// An AdminService stub with the home's credential; nullptr after printing why.
std::unique_ptr<vigil::v1::AdminService::Stub> AdminStub(const Globals& g,
                                                         const client::Replica& replica,
                                                         int* exit_code);
// A call context with the usual deadline (30 s).
std::unique_ptr<grpc::ClientContext> CallContext();
// The address described by the flags, the CA read from its file.
absl::StatusOr<client::ServerAddress> AddressFrom(const ServerFlags& flags);
absl::StatusOr<std::string> ReadTextFile(const std::string& path);
// "visits/ID" from "ID" or "visits/ID"; other scopes as they are.
// InvalidArgument when it is neither a record id nor a scope.
absl::StatusOr<std::string> ScopeArg(const std::string& arg);
// The visit id of "ID" or "visits/ID".
absl::StatusOr<std::string> VisitArg(const std::string& arg);
// A fresh UUIDv7.
std::string NewId();

// --- Connection (vigilctl_connect.cc). ---
int Connect(const Globals& g, const ServerFlags& server, const std::string& token_file);
int Enroll(const Globals& g, const ServerFlags& server, const std::string& code,
           const std::string& device_name);
// `server` null: the home's server.
int Health(const Globals& g, const ServerFlags* server);
int PrintNewId(const Globals& g);

// --- Administration (vigilctl_admin.cc). ---
int UserCreate(const Globals& g, const std::string& user_id, const std::string& role,
               const std::string& display_name);
int UserList(const Globals& g);
int UserSetDisabled(const Globals& g, const std::string& user_id, bool disabled);
int CodeCreate(const Globals& g, const std::string& user_id, std::uint32_t ttl_seconds);
int DeviceList(const Globals& g, const std::string& user_id);
int DeviceRevoke(const Globals& g, const std::string& device_id);
int TeamAdd(const Globals& g, const std::string& visit, const std::string& user_id,
            const std::string& role);
int TeamRemove(const Globals& g, const std::string& visit, const std::string& user_id);
int TeamList(const Globals& g, const std::string& visit);
int KeyRotate(const Globals& g);
int AuditVerify(const Globals& g);
int AuditExport(const Globals& g, const std::string& out_file);

// --- Operator, on the server's host (vigilctl_ops.cc). ---
int Backup(const Globals& g, const std::string& data_dir, const std::string& backup_dir);
int Restore(const Globals& g, const std::string& backup_dir, const std::string& data_dir,
            std::optional<std::uint32_t> backup_id, const std::string& key_file);

// --- Field work on the local store: syncing (vigilctl_sync.cc), records
// (vigilctl_records.cc), the local view and conflicts (vigilctl_view.cc). ---
int Follow(const Globals& g, const std::string& scope);
int Forget(const Globals& g, const std::string& scope);
// `free_attachments`: then delete the local copies of attachments that a
// verified receipt covers.
int Sync(const Globals& g, bool free_attachments);
int Status(const Globals& g);
// A parked edit (one the server refused; `status` lists them) sent again by
// the next sync once what refused it is mended, or forgotten.
int ParkedRequeue(const Globals& g, const std::string& mutation_id);
int ParkedDrop(const Globals& g, const std::string& mutation_id);

// A Facility in the registry scope, and a Visit record (planned) in its own
// scope visits/ID; local edits sent by the next sync.
int FacilityCreate(const Globals& g, const std::string& name, const std::string& type,
                   std::uint32_t capacity);
int AuthorityCreate(const Globals& g, const std::string& name, const std::string& parent);
int VisitCreate(const Globals& g, const std::string& visit, const std::string& facility_id,
                const std::string& type, bool unannounced, const std::string& objectives);

struct FindingArgs {
  std::string visit;  // create
  std::string id;     // edit
  std::optional<std::string> title, narrative, narrative_file, severity, category, subcategory,
      location;
  std::optional<bool> good_practice;
  std::vector<std::string> append_lines, add_tags, remove_tags, add_evidence;
};
int FindingCreate(const Globals& g, const FindingArgs& args);
int FindingEdit(const Globals& g, const FindingArgs& args);

struct InterviewArgs {
  std::string visit;  // create
  std::string id;     // edit
  std::optional<std::string> pseudonym, kind, interpreter_language, location, notes, notes_file,
      conducted_at, consent;
  std::optional<bool> reprisal_watch;
  std::vector<std::string> append_lines, add_vulnerabilities, remove_vulnerabilities, interviewers;
};
int InterviewCreate(const Globals& g, const InterviewArgs& args);
int InterviewEdit(const Globals& g, const InterviewArgs& args);

struct AttachArgs {
  std::string visit;
  std::string file;
  std::string caption;
  std::string media_type;
  bool identifiable = false;
  std::string consent_interview_id;
  std::vector<std::string> tags;
};
int Attach(const Globals& g, const AttachArgs& args);

int ListScope(const Globals& g, const std::string& scope);
int ShowRecord(const Globals& g, const std::string& record_id);
int Conflicts(const Globals& g, const std::string& scope);
int Resolve(const Globals& g, const std::string& record_id, const std::string& conflict_id,
            std::optional<int> take, std::optional<std::string> value);

// A conflict of `record` side by side, as text and as JSON
// (vigilctl_view.cc): shared by the tablet's and the review desk's views.
std::string ConflictText(const vigil::v1::Conflict& c, const client::LocalView& record);
JsonObject ConflictJson(const vigil::v1::Conflict& c, const client::LocalView& record);

// --- Review (vigilctl_review.cc, vigilctl_merges.cc): vigil.v1.ReviewService. ---
struct ReviewFilterArgs {
  std::string facility_id, state, type, member, reviewer;
  std::optional<bool> announced;
};
int ReviewQueue(const Globals& g, const std::string& state, const std::string& reviewer);
int ReviewVisits(const Globals& g, const ReviewFilterArgs& filter);
int ReviewVisit(const Globals& g, const std::string& visit);
// Late submissions of one visit (every visit when `visit` is empty).
int ReviewLate(const Globals& g, const std::string& visit, bool decided);
// `state`: accept or question.
int ReviewMark(const Globals& g, const std::string& record_id, const std::string& state,
               const std::string& question, const std::string& etag);
int ReviewRecord(const Globals& g, const std::string& record_id);
struct ConflictFilterArgs {
  std::string visit, facility, kind, path;
};
int ReviewConflicts(const Globals& g, const ConflictFilterArgs& filter);
// `name`: conflicts/ID, as `review conflicts` lists it.
int ReviewConflict(const Globals& g, const std::string& name);
// Exactly one of `take` (a side's number) and `value` (the new value, as
// `resolve` reads it on the tablet).
int ReviewResolve(const Globals& g, const std::string& name, std::optional<int> take,
                  const std::optional<std::string>& value, const std::string& reason);
struct ParallelFilterArgs {
  std::string visit, kind;
  bool checked = false;
};
// Parallel updates (clean merges of concurrent edits), unchecked or
// `checked` (vigilctl_merges.cc, with the conflict commands).
int ReviewParallel(const Globals& g, const ParallelFilterArgs& filter);
// `name`: parallelUpdates/ID, as `review parallel` lists it.
int ReviewParallelUpdate(const Globals& g, const std::string& name);
int ReviewCheck(const Globals& g, const std::string& name, const std::string& etag);
// `name`: visits/V/lateSubmissions/M, as `review late` lists it; `outcome`
// accept or reject.
int ReviewDecide(const Globals& g, const std::string& name, const std::string& outcome,
                 const std::string& reason, const std::string& etag);
// The review desk's queries (vigilctl_queries.cc). Enum filters take the
// value's words (e.g. "treatment"); yes/no filters "yes" or "no"; dates
// YYYY-MM-DD.
struct FindingFilterArgs {
  std::string visit, facility, category, subcategory, severity, good_practice, mark, from, to;
};
int ReviewFindings(const Globals& g, const FindingFilterArgs& filter);
struct InterviewFilterArgs {
  std::string visit, facility, kind, vulnerability, reprisal_watch, quote_consent;
  bool notes = false;
};
int ReviewInterviews(const Globals& g, const InterviewFilterArgs& filter);
int ReviewFacility(const Globals& g, const std::string& facility_id);
// A comment on a record of the visit, or a reply (`reply_to`; `record` may
// then be empty).
struct CommentArgs {
  std::string record, field, reply_to, text;
};
int ReviewComment(const Globals& g, const std::string& visit, const CommentArgs& args);
// The visit's comments (or one record's), threaded.
int ReviewComments(const Globals& g, const std::string& visit, const std::string& record_id);
// Moves the visit to state `to` (one request id for every retry).
int ReviewMove(const Globals& g, const std::string& visit, const std::string& to,
               const std::string& note, bool acknowledge_conflicts, const std::string& etag);

// Registers `vigilctl recommendations ...` (vigilctl_recommendations.cc)
// on `app`; `on` sets what a command runs.
using OnCommand = std::function<void(CLI::App*, std::function<int()>)>;
void AddRecommendationCommands(CLI::App& app, const Globals& g, const OnCommand& on);
// Creates `body` in the visit's scope on this device (sent by the next
// sync), following the visit (vigilctl_records.cc).
int CreateVisitRecord(const Globals& g, const std::string& visit, const vigil::v1::RecordBody& body);
// briefing, report export|publish|published|verify, statistics
// (vigilctl_reports.cc).
void AddReportCommands(CLI::App& app, const Globals& g, const OnCommand& on);

}  // namespace vigil::vigilctl

#endif  // VIGIL_CLIENT_VIGILCTL_COMMANDS_H_
