// ReportService's visit reports and briefings: the export of a sample visit
// against golden files (JSON, Markdown, HTML); a leak test that plants a
// sentinel where no report may reach (an identity record, interview notes,
// a quote without consent, an identifiable photo's caption, a photo without
// consent, register-check notes, an unannounced visit's plan) and exports
// every report, briefing and published report for every role; publishing
// with signed documents that a changed byte no longer verifies; briefings.
#include <sodium.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_replace.h"
#include "absl/time/time.h"
#include "base/sha256.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "tests/server/review_fixture.h"
#include "vigil/v1/report.grpc.pb.h"

namespace vigil {
namespace {

using google::protobuf::util::TimeUtil;
using review_testing::Create;
using review_testing::Date;
using review_testing::NewId;
using review_testing::Reason;
using review_testing::ReviewTest;
using v1::RecordBody;

// Fixed record ids (ULIDs), so that the golden files are stable.
std::string Id(int n) {
  std::string digits = std::to_string(n);
  return "01J" + std::string(23 - digits.size(), '0') + digits;
}

google::protobuf::Timestamp At(const std::string& rfc3339) {
  google::protobuf::Timestamp t;
  EXPECT_TRUE(TimeUtil::FromString(rfc3339, &t));
  return t;
}

constexpr char kIdentity[] = "SENTINEL-IDENTITY-7Q";
constexpr char kNotes[] = "SENTINEL-NOTES-4K";
constexpr char kQuote[] = "SENTINEL-QUOTE-9Z";
constexpr char kCaption[] = "SENTINEL-CAPTION-2W";
constexpr char kNoConsentPhoto[] = "SENTINEL-NOCONSENT-PHOTO-5R";
constexpr char kRegisterNotes[] = "SENTINEL-REGISTER-NOTES-3M";
constexpr char kSourceNote[] = "SENTINEL-SOURCE-NOTE-8T";
constexpr char kPlan[] = "SENTINEL-UNANNOUNCED-PLAN-6H";
const char* const kSentinels[] = {kIdentity,       kNotes,         kQuote,      kCaption,
                                  kNoConsentPhoto, kRegisterNotes, kSourceNote, kPlan};

const std::vector<std::string> kRoles = {"reviewer", "lead",    "monitor", "medical",
                                         "observer", "service", "admin"};

class VisitReportTest : public ReviewTest {
 protected:
  std::unique_ptr<v1::ReportService::Stub> Report(const std::string& user) {
    return v1::ReportService::NewStub(server_->ChannelWithToken(tokens_.at(user)));
  }

  void Put(const std::string& scope, const std::string& id, const RecordBody& body) {
    grpc::Status s = As("reviewer").Push({Create(scope, body, id)});
    ASSERT_TRUE(s.ok()) << id << ": " << s.error_message();
  }

  // A visit of the facility, with the fixture's team, created by the NPM
  // unit and moved to in progress.
  void PutVisit(const std::string& id, v1::Visit visit) {
    ASSERT_OK(Team(id));
    visit.set_state(v1::VISIT_STATE_PLANNED);
    RecordBody body;
    *body.mutable_visit() = std::move(visit);
    Put("visits/" + id, id, body);
  }

  void MoveTo(const std::string& visit, std::vector<v1::VisitState> steps) {
    for (v1::VisitState step : steps) {
      grpc::Status s = As("reviewer").Move(visit, step, nullptr, "questions");
      ASSERT_TRUE(s.ok()) << v1::VisitState_Name(step) << ": " << s.error_message();
    }
  }

  std::string Recommend(const std::string& request_id, v1::Recommendation r) {
    grpc::ClientContext ctx;
    v1::CreateRecommendationRequest request;
    *request.mutable_recommendation() = std::move(r);
    request.set_request_id(request_id);
    v1::RecommendationView view;
    grpc::Status s = Report("reviewer")->CreateRecommendation(&ctx, request, &view);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return view.record().id();
  }

  // The sample: an authority and a prison, a visit in 2025 with a
  // recommendation, and the follow-up visit of 2026 (Id(20)) in review,
  // which checks it and makes new ones. Sentinels sit where no report may
  // reach.
  void Sample() {
    RecordBody b;
    b.mutable_authority()->set_name("Prison Service");
    Put("registry", Id(1), b);
    b.mutable_authority()->set_name("Ministry of Health");
    Put("registry", Id(3), b);
    RecordBody f;
    v1::Facility& facility = *f.mutable_facility();
    facility.set_name("Central Prison");
    facility.set_type(v1::FACILITY_TYPE_PRISON);
    facility.set_operator_authority_id(Id(1));
    facility.set_official_capacity(400);
    facility.add_populations_held(v1::POPULATION_MEN);
    facility.add_populations_held(v1::POPULATION_PRE_TRIAL);
    Put("registry", Id(2), f);

    // The visit of 2025.
    const std::string earlier = Id(10), es = "visits/" + Id(10);
    v1::Visit v;
    v.set_facility_id(Id(2));
    v.set_type(v1::VISIT_TYPE_IN_DEPTH);
    v.set_announced(true);
    *v.mutable_actual_start() = At("2025-03-10T08:00:00Z");
    v.set_summary("Cold cells in Wing B.");
    PutVisit(earlier, v);
    RecordBody o;
    o.mutable_occupancy_snapshot()->set_visit_id(earlier);
    *o.mutable_occupancy_snapshot()->mutable_taken_at() = At("2025-03-10T09:00:00Z");
    o.mutable_occupancy_snapshot()->set_total(380);
    Put(es, Id(11), o);
    RecordBody old_finding;
    old_finding.mutable_finding()->set_visit_id(earlier);
    old_finding.mutable_finding()->set_category(v1::FINDING_CATEGORY_MATERIAL_CONDITIONS);
    old_finding.mutable_finding()->set_title("No heating in Wing B");
    Put(es, Id(12), old_finding);
    RecordBody watched;
    v1::Interview& w = *watched.mutable_interview();
    w.set_visit_id(earlier);
    w.set_pseudonym("P-7");
    w.set_kind(v1::INTERVIEW_KIND_PRIVATE);
    w.set_reprisal_watch(true);
    w.set_location("Wing B");
    *w.mutable_conducted_at() = At("2025-03-10T11:00:00Z");
    w.set_notes(kNotes);
    Put(es, Id(13), watched);
    MoveTo(earlier, review_testing::PathTo(v1::VISIT_STATE_APPROVED));
    v1::Recommendation first;
    first.set_addressee_authority_id(Id(1));
    first.set_theme("heating");
    first.set_priority(v1::PRIORITY_HIGH);
    first.set_text("Repair the heating in Wing B.");
    *first.mutable_deadline() = Date(2025, 9, 1);
    *first.mutable_issued_on() = Date(2025, 4, 1);
    first.add_finding_ids(Id(12));
    first_recommendation_ = Recommend(Id(90), first);

    // The visit of 2026.
    const std::string s = "visits/" + Id(20);
    v1::Visit now;
    now.set_facility_id(Id(2));
    now.set_type(v1::VISIT_TYPE_FOLLOW_UP);
    now.set_announced(true);
    *now.mutable_planned_window() = v1::DateRange();
    *now.mutable_planned_window()->mutable_start() = Date(2026, 3, 1);
    *now.mutable_planned_window()->mutable_end() = Date(2026, 3, 3);
    *now.mutable_actual_start() = At("2026-03-02T08:00:00Z");
    *now.mutable_actual_end() = At("2026-03-03T17:00:00Z");
    now.add_themes("heating");
    now.set_objectives("Check the heating; <b>health care</b>.");
    now.set_summary("The heating still fails in Wing B.\nHealth care has improved.");
    now.set_cooperation("Full access; registers provided promptly.");
    PutVisit(Id(20), now);
    auto interview = [&](int n, const std::string& pseudonym, v1::InterviewKind kind, bool quote,
                         bool photo) {
      RecordBody i;
      i.mutable_interview()->set_visit_id(Id(20));
      i.mutable_interview()->set_pseudonym(pseudonym);
      i.mutable_interview()->set_kind(kind);
      i.mutable_interview()->mutable_consent()->set_record(true);
      i.mutable_interview()->mutable_consent()->set_quote(quote);
      i.mutable_interview()->mutable_consent()->set_photo(photo);
      i.mutable_interview()->set_notes(kNotes);
      Put(s, Id(n), i);
    };
    interview(21, "D-1", v1::INTERVIEW_KIND_PRIVATE, true, true);
    interview(22, "D-2", v1::INTERVIEW_KIND_PRIVATE, false, false);
    interview(23, "S-1", v1::INTERVIEW_KIND_STAFF, false, false);
    RecordBody identity;
    identity.mutable_identity()->set_interview_id(Id(21));
    identity.mutable_identity()->set_full_name(kIdentity);
    Put(s, Id(24), identity);
    auto photo = [&](int n, const std::string& caption, bool identifiable,
                     const std::string& consent) {
      RecordBody a;
      a.mutable_attachment()->set_visit_id(Id(20));
      a.mutable_attachment()->set_sha256(Sha256::HexOf(caption));
      a.mutable_attachment()->set_size_bytes(1000 + n);
      a.mutable_attachment()->set_media_type("image/jpeg");
      *a.mutable_attachment()->mutable_captured_at() = At("2026-03-02T10:00:00Z");
      a.mutable_attachment()->set_identifiable(identifiable);
      a.mutable_attachment()->set_consent_interview_id(consent);
      a.mutable_attachment()->set_caption(caption);
      Put(s, Id(n), a);
    };
    photo(30, "Cell 12: broken window", false, "");
    photo(31, kCaption, true, "");
    photo(32, kNoConsentPhoto, false, Id(22));
    photo(33, "D-1's blanket", false, Id(21));
    auto finding = [&](int n, v1::FindingCategory category, v1::Severity severity,
                       const std::string& title, bool good) {
      RecordBody r;
      r.mutable_finding()->set_visit_id(Id(20));
      r.mutable_finding()->set_category(category);
      r.mutable_finding()->set_severity(severity);
      r.mutable_finding()->set_title(title);
      r.mutable_finding()->set_good_practice(good);
      return r;
    };
    RecordBody cold = finding(40, v1::FINDING_CATEGORY_MATERIAL_CONDITIONS, v1::SEVERITY_HIGH,
                              "Heating fails in Wing B", false);
    v1::Finding& c = *cold.mutable_finding();
    c.set_location("Wing B, cells 10-14");
    c.set_narrative("Radiators were cold in five cells.\n\nTemperature: 11 *C* at 07:00.");
    auto source = [&](const std::string& id, v1::SourceType type, const std::string& ref,
                      const std::string& quote) {
      v1::FindingSource& src = *c.add_sources();
      src.set_id(id);
      src.set_type(type);
      src.set_reference_id(ref);
      src.set_note(kSourceNote);
      src.set_quote(quote);
    };
    source("s1", v1::SOURCE_TYPE_OBSERVATION, "", "");
    source("s2", v1::SOURCE_TYPE_INTERVIEW_DETAINEE, Id(21),
           "It is so cold at night that we cannot sleep.");
    source("s3", v1::SOURCE_TYPE_INTERVIEW_DETAINEE, Id(22), kQuote);
    for (int p : {30, 31, 32, 33}) c.add_evidence_attachment_ids(Id(p));
    Put(s, Id(40), cold);
    Put(s, Id(41),
        finding(41, v1::FINDING_CATEGORY_HEALTH_CARE, v1::SEVERITY_UNSPECIFIED,
                "Daily nurse rounds", true));
    Put(s, Id(42),
        finding(42, v1::FINDING_CATEGORY_SAFEGUARDS, v1::SEVERITY_URGENT,
                "Families told of custody after 3 days", false));
    RecordBody check;
    v1::RegisterCheck& rc = *check.mutable_register_check();
    rc.set_visit_id(Id(20));
    rc.set_register_type(v1::REGISTER_TYPE_CUSTODY);
    rc.set_register_name("Admissions book");
    *rc.mutable_period()->mutable_start() = Date(2026, 1, 1);
    *rc.mutable_period()->mutable_end() = Date(2026, 2, 28);
    rc.set_entries_reviewed(120);
    rc.add_discrepancies()->set_id("d1");
    rc.mutable_discrepancies(0)->set_description(kRegisterNotes);
    rc.set_notes(kRegisterNotes);
    Put(s, Id(50), check);
    RecordBody occupancy;
    v1::OccupancySnapshot& os = *occupancy.mutable_occupancy_snapshot();
    os.set_visit_id(Id(20));
    *os.mutable_taken_at() = At("2026-03-02T09:00:00Z");
    os.set_total(410);
    os.set_foreigners(35);
    os.set_pre_trial(120);
    os.set_source("Admissions book");
    Put(s, Id(51), occupancy);
    MoveTo(Id(20), review_testing::PathTo(v1::VISIT_STATE_IN_REVIEW));

    grpc::ClientContext ctx;
    v1::AddFollowUpCheckRequest follow_up;
    follow_up.set_name("recommendations/" + first_recommendation_);
    follow_up.mutable_check()->set_visit_id(Id(20));
    *follow_up.mutable_check()->mutable_checked_on() = Date(2026, 3, 2);
    follow_up.mutable_check()->set_observed_status(v1::RECOMMENDATION_STATUS_PARTIALLY_IMPLEMENTED);
    follow_up.mutable_check()->set_note("Radiators replaced in half the wing.");
    follow_up.set_request_id(Id(91));
    v1::RecommendationView ignored;
    ASSERT_TRUE(Report("reviewer")->AddFollowUpCheck(&ctx, follow_up, &ignored).ok());
    v1::Recommendation again = first;
    again.clear_finding_ids();
    again.add_finding_ids(Id(40));
    again.add_repeats_recommendation_ids(first_recommendation_);
    again.set_text("Replace every radiator in Wing B before winter.");
    *again.mutable_deadline() = Date(2026, 10, 1);
    *again.mutable_issued_on() = Date(2026, 3, 20);
    Recommend(Id(92), again);
    v1::Recommendation notify;
    notify.set_addressee_authority_id(Id(3));
    notify.set_theme("safeguards");
    notify.set_priority(v1::PRIORITY_MEDIUM);
    notify.set_text("Tell families of an admission within 24 hours.");
    *notify.mutable_issued_on() = Date(2026, 3, 20);
    notify.add_finding_ids(Id(42));
    Recommend(Id(93), notify);
  }

  grpc::Status Export(const std::string& user, const std::string& visit, v1::ReportFormat format,
                      v1::ExportVisitReportResponse* out) {
    grpc::ClientContext ctx;
    v1::ExportVisitReportRequest request;
    request.set_name("visits/" + visit);
    request.set_format(format);
    return Report(user)->ExportVisitReport(&ctx, request, out);
  }

  grpc::Status Publish(const std::string& user, const std::string& visit, v1::PublishedReport* out,
                       const std::string& request_id = NewId(), const std::string& etag = "") {
    grpc::ClientContext ctx;
    v1::PublishVisitReportRequest request;
    request.set_name("visits/" + visit);
    request.set_request_id(request_id);
    request.set_etag(etag);
    return Report(user)->PublishVisitReport(&ctx, request, out);
  }

  grpc::Status Briefing(const std::string& user, const std::string& visit, v1::Briefing* out) {
    grpc::ClientContext ctx;
    v1::GetBriefingRequest request;
    request.set_name("visits/" + visit);
    return Report(user)->GetBriefing(&ctx, request, out);
  }

  std::string first_recommendation_;
};

// The document with its generation time replaced, as the golden files
// hold it.
std::string Normalized(const v1::ExportVisitReportResponse& r) {
  const google::protobuf::Timestamp& t = r.report().generated_at();
  const std::string human = absl::FormatTime(
      "%Y-%m-%d %H:%M UTC", absl::FromUnixSeconds(t.seconds()), absl::UTCTimeZone());
  return absl::StrReplaceAll(r.document().content(),
                             {{TimeUtil::ToString(t), "GENERATED_AT"}, {human, "GENERATED_AT"}});
}

TEST_F(VisitReportTest, SampleVisitMatchesTheGoldenFiles) {
  Sample();
  for (const auto& [format, file] : std::vector<std::pair<v1::ReportFormat, std::string>>{
           {v1::REPORT_FORMAT_JSON, "visit_report.json"},
           {v1::REPORT_FORMAT_MARKDOWN, "visit_report.md"},
           {v1::REPORT_FORMAT_HTML, "visit_report.html"}}) {
    SCOPED_TRACE(file);
    v1::ExportVisitReportResponse r;
    grpc::Status s = Export("reviewer", Id(20), format, &r);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(r.document().sha256(), Sha256::HexOf(r.document().content()));
    const std::string path = std::string(VIGIL_SOURCE_DIR) + "/tests/server/golden/" + file;
    const std::string got = Normalized(r);
    if (std::getenv("VIGIL_UPDATE_GOLDEN") != nullptr) std::ofstream(path) << got;
    std::ifstream in(path);
    ASSERT_TRUE(in.good()) << path << " (VIGIL_UPDATE_GOLDEN=1 writes it)";
    std::stringstream want;
    want << in.rdbuf();
    EXPECT_EQ(got, want.str()) << "VIGIL_UPDATE_GOLDEN=1 rewrites " << path;
  }
  // What the protection rules kept out, counted where the reader sees it.
  v1::ExportVisitReportResponse r;
  ASSERT_TRUE(Export("reviewer", Id(20), v1::REPORT_FORMAT_JSON, &r).ok());
  EXPECT_EQ(r.report().withheld().quotes_without_consent(), 1u);
  EXPECT_EQ(r.report().withheld().photos_identifiable_or_without_consent(), 2u);
  EXPECT_EQ(r.report().changes_since_last_visit().previous_visit(), "visits/" + Id(10));
  ASSERT_EQ(r.report().changes_since_last_visit().follow_ups_size(), 1);
}

// Every export, briefing and published report, for every role, in every
// format: no sentinel in any of them.
TEST_F(VisitReportTest, NoReportLeaksWhatItMustNotShow) {
  Sample();
  // An unannounced visit that has not started: its plan stays out.
  const std::string unannounced = Id(60);
  v1::Visit plan;
  plan.set_facility_id(Id(2));
  plan.set_announced(false);
  *plan.mutable_planned_window()->mutable_start() = Date(2027, 1, 5);
  *plan.mutable_planned_window()->mutable_end() = Date(2027, 1, 6);
  plan.set_objectives(kPlan);
  plan.add_themes(kPlan);
  PutVisit(unannounced, plan);
  std::vector<std::string> outputs;
  int exported = 0;
  for (const std::string& role : kRoles) {
    for (const std::string& visit : {Id(10), Id(20), unannounced}) {
      for (v1::ReportFormat format :
           {v1::REPORT_FORMAT_JSON, v1::REPORT_FORMAT_MARKDOWN, v1::REPORT_FORMAT_HTML}) {
        v1::ExportVisitReportResponse r;
        if (Export(role, visit, format, &r).ok()) {
          ++exported;
          outputs.push_back(r.document().content());
          outputs.push_back(r.report().SerializeAsString());
        }
      }
      v1::Briefing b;
      if (Briefing(role, visit, &b).ok()) outputs.push_back(b.SerializeAsString());
    }
  }
  EXPECT_GE(exported, 5 * 3 * 2);  // every role on the team or at the desk
  for (const std::string& role : kRoles) {
    for (v1::ReportFormat format : {v1::REPORT_FORMAT_JSON, v1::REPORT_FORMAT_CSV}) {
      grpc::ClientContext ctx;
      v1::GetStatisticsRequest request;
      *request.mutable_period()->mutable_start() = Date(2020, 1, 1);
      *request.mutable_period()->mutable_end() = Date(2028, 12, 31);
      request.set_format(format);
      v1::GetStatisticsResponse stats;
      if (Report(role)->GetStatistics(&ctx, request, &stats).ok()) {
        outputs.push_back(stats.document().content());
        outputs.push_back(stats.statistics().SerializeAsString());
      }
    }
  }
  v1::PublishedReport published;
  MoveTo(Id(20), {v1::VISIT_STATE_APPROVED});
  ASSERT_TRUE(Publish("reviewer", Id(20), &published).ok());
  outputs.push_back(published.SerializeAsString());
  for (const std::string& role : kRoles) {
    grpc::ClientContext ctx;
    v1::GetPublishedReportRequest request;
    request.set_name("visits/" + Id(20));
    v1::PublishedReport got;
    if (Report(role)->GetPublishedReport(&ctx, request, &got).ok()) {
      outputs.push_back(got.SerializeAsString());
    }
  }
  // The sentinels are there to be found (in the records' own view).
  v1::ExportVisitReportResponse r;
  ASSERT_TRUE(Export("reviewer", Id(20), v1::REPORT_FORMAT_JSON, &r).ok());
  EXPECT_NE(r.document().content().find("It is so cold at night"), std::string::npos);
  for (const std::string& out : outputs) {
    for (const char* sentinel : kSentinels) {
      EXPECT_EQ(out.find(sentinel), std::string::npos) << sentinel << " in:\n" << out;
    }
  }
}

TEST_F(VisitReportTest, PublishingStoresSignedDocumentsThatVerify) {
  Sample();
  v1::PublishedReport published;
  grpc::Status s = Publish("reviewer", Id(20), &published);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);  // in review, not approved
  EXPECT_EQ(Reason(s), "VISIT_TRANSITION_NOT_ALLOWED");
  {
    grpc::ClientContext ctx;
    v1::GetPublishedReportRequest request;
    request.set_name("visits/" + Id(20));
    s = Report("reviewer")->GetPublishedReport(&ctx, request, &published);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_EQ(Reason(s), "REPORT_NOT_PUBLISHED");
  }
  MoveTo(Id(20), {v1::VISIT_STATE_APPROVED});
  // TransitionVisit cannot publish: a published visit has its signed report.
  {
    grpc::ClientContext ctx;
    v1::TransitionVisitRequest request;
    request.set_name("visits/" + Id(20));
    request.set_to(v1::VISIT_STATE_PUBLISHED);
    request.set_request_id(NewId());
    v1::VisitView view;
    s = As("reviewer").review->TransitionVisit(&ctx, request, &view);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_EQ(Reason(s), "REPORT_REQUIRED");
  }
  s = Publish("lead", Id(20), &published);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Reason(s), "VISIT_TRANSITION_NOT_PERMITTED");
  s = Publish("reviewer", Id(20), &published, NewId(), "\"stale\"");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(Reason(s), "ETAG_MISMATCH");

  v1::VisitView approved;
  ASSERT_TRUE(As("reviewer").Get(Id(20), &approved).ok());
  const std::string request_id = NewId();
  s = Publish("reviewer", Id(20), &published, request_id, approved.etag());
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(published.visit(), "visits/" + Id(20));
  EXPECT_EQ(published.published_by(), "reviewer");
  ASSERT_EQ(published.documents_size(), 3);
  ASSERT_EQ(published.public_key().size(), crypto_sign_PUBLICKEYBYTES);
  auto verifies = [&](const std::string& content, const std::string& signature) {
    return signature.size() == crypto_sign_BYTES &&
           crypto_sign_verify_detached(
               reinterpret_cast<const unsigned char*>(signature.data()),
               reinterpret_cast<const unsigned char*>(content.data()), content.size(),
               reinterpret_cast<const unsigned char*>(published.public_key().data())) == 0;
  };
  for (const v1::ReportDocument& doc : published.documents()) {
    SCOPED_TRACE(v1::ReportFormat_Name(doc.format()));
    EXPECT_EQ(doc.sha256(), Sha256::HexOf(doc.content()));
    EXPECT_TRUE(verifies(doc.content(), doc.signature()));
    // One changed byte anywhere and the signature fails.
    for (std::size_t at : {std::size_t{0}, doc.content().size() / 2, doc.content().size() - 1}) {
      std::string changed = doc.content();
      changed[at] ^= 0x01;
      EXPECT_FALSE(verifies(changed, doc.signature())) << "byte " << at;
    }
  }
  // The report as published is the visit's final state.
  v1::VisitView view;
  ASSERT_TRUE(As("reviewer").Get(Id(20), &view).ok());
  EXPECT_EQ(view.record().body().visit().state(), v1::VISIT_STATE_PUBLISHED);
  // A retry gets the first publication; anyone on the team reads it as it is.
  v1::PublishedReport again;
  ASSERT_TRUE(Publish("reviewer", Id(20), &again, request_id, approved.etag()).ok());
  EXPECT_EQ(again.SerializeAsString(), published.SerializeAsString());
  grpc::ClientContext ctx;
  v1::GetPublishedReportRequest request;
  request.set_name("visits/" + Id(20));
  v1::PublishedReport read;
  ASSERT_TRUE(Report("monitor")->GetPublishedReport(&ctx, request, &read).ok());
  EXPECT_EQ(read.SerializeAsString(), published.SerializeAsString());
  // Another request once published: the move is made.
  s = Publish("reviewer", Id(20), &again);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(VisitReportTest, BriefingNamesWhatToCheckAndNoOneWhoCouldBeHarmed) {
  Sample();
  // A visit planned for later is not an earlier visit.
  v1::Visit later;
  later.set_facility_id(Id(2));
  later.set_announced(true);
  *later.mutable_planned_window()->mutable_start() = Date(2027, 5, 1);
  *later.mutable_planned_window()->mutable_end() = Date(2027, 5, 2);
  later.set_summary("not yet");
  PutVisit(Id(62), later);
  v1::Briefing b;
  grpc::Status s = Briefing("lead", Id(20), &b);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(b.place().name(), "Central Prison");
  EXPECT_EQ(b.place().operator_(), "Prison Service");
  ASSERT_EQ(b.last_visits_size(), 1);
  EXPECT_EQ(b.last_visits(0).visit(), "visits/" + Id(10));
  EXPECT_EQ(b.last_visits(0).summary(), "Cold cells in Wing B.");
  ASSERT_EQ(b.reprisal_watch_size(), 1);
  EXPECT_EQ(b.reprisal_watch(0).pseudonym(), "P-7");
  EXPECT_EQ(b.reprisal_watch(0).location(), "Wing B");
  ASSERT_EQ(b.occupancy_trend_size(), 1);
  EXPECT_EQ(b.occupancy_trend(0).total(), 380u);
  EXPECT_EQ(b.occupancy_trend(0).official_capacity(), 400u);
  ASSERT_EQ(b.findings_by_category_size(), 1);
  EXPECT_EQ(b.findings_by_category(0).category(), v1::FINDING_CATEGORY_MATERIAL_CONDITIONS);
  // Three recommendations concern the facility, none implemented.
  ASSERT_EQ(b.open_recommendations_size(), 3);
  bool checked = false;
  for (const auto& r : b.open_recommendations()) {
    if (r.name() != "recommendations/" + first_recommendation_) continue;
    checked = true;
    EXPECT_TRUE(r.overdue());
    EXPECT_EQ(r.last_observed_status(), v1::RECOMMENDATION_STATUS_PARTIALLY_IMPLEMENTED);
  }
  EXPECT_TRUE(checked);
  EXPECT_EQ(b.SerializeAsString().find(kNotes), std::string::npos);
  s = Briefing("service", Id(20), &b);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  s = Briefing("admin", Id(20), &b);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(VisitReportTest, BadRequestsAreRefused) {
  Sample();
  v1::ExportVisitReportResponse r;
  grpc::Status s = Export("reviewer", Id(20), static_cast<v1::ReportFormat>(9), &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Reason(s), "FORMAT_INVALID");
  s = Export("reviewer", "not-an-id", v1::REPORT_FORMAT_JSON, &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  s = Export("reviewer", Id(77), v1::REPORT_FORMAT_JSON, &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Reason(s), "RESOURCE_NOT_FOUND");
  s = Export("monitor", Id(77), v1::REPORT_FORMAT_JSON, &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  s = Export("admin", Id(20), v1::REPORT_FORMAT_JSON, &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

}  // namespace
}  // namespace vigil
