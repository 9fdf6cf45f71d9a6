// vigilctl briefing, report (export, publish, published, verify) and
// statistics (ReportService). Documents go to the file named by --out, or
// to standard output; a published report's documents to a directory, each
// with its signature (FILE.sig, 64 bytes) and the server's public key
// (public_key.bin, 32 bytes), which `report verify` checks.
#include <sodium.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"
#include "client/vigilctl_commands.h"
#include "client/vigilctl_review_session.h"
#include "client/vigilctl_values.h"
#include "vigil/v1/report.grpc.pb.h"

namespace vigil::vigilctl {
namespace {

using Stub = vigil::v1::ReportService::Stub;

struct Args {
  std::string visit, format, out, note, from, to, file, signature, public_key;
  bool offline = false;
};

std::string Day(const vigil::v1::CivilDate& d) {
  if (d.year() == 0) return "-";
  return absl::FormatCivilTime(absl::CivilDay(d.year(), d.month(), d.day()));
}

absl::Status WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << bytes;
  file.close();
  if (!file) return absl::PermissionDeniedError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  return std::string(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
}

// "json" (default), "markdown", "html", "csv".
absl::StatusOr<vigil::v1::ReportFormat> FormatArg(const std::string& value) {
  if (value.empty()) return vigil::v1::REPORT_FORMAT_JSON;
  return ParseEnumAs<vigil::v1::ReportFormat>(value);
}

// The document to --out, else to standard output (with --json: its
// metadata as a JSON line).
int Deliver(const Globals& g, const vigil::v1::ReportDocument& doc, const std::string& out) {
  if (!out.empty()) {
    if (absl::Status s = WriteFile(out, doc.content()); !s.ok()) return Fail("writing", s);
    vigil::v1::ReportDocument meta = doc;
    meta.clear_content();
    g.out().Result(JsonObject().Str("file", out).Proto("document", meta),
                   absl::StrCat("wrote ", out, " (", FormatBytes(doc.content().size()),
                                ", SHA-256 ", doc.sha256(), ")"));
    return kExitOk;
  }
  if (g.json) {
    g.out().Result(JsonObject().Proto("document", doc), "");
  } else {
    std::fwrite(doc.content().data(), 1, doc.content().size(), stdout);
  }
  return kExitOk;
}

std::string BriefingText(const vigil::v1::Briefing& b) {
  const vigil::v1::ReportPlace& p = b.place();
  std::string text = absl::StrCat(
      "Briefing for ", b.visit(), ": ", p.name(), " (", EnumWord(p.type()), ", operated by ",
      p.operator_().empty() ? "-" : p.operator_(), ", capacity ", p.official_capacity(), ")");
  absl::StrAppend(&text, "\nEarlier visits:");
  if (b.last_visits().empty()) absl::StrAppend(&text, " none");
  for (const auto& v : b.last_visits()) {
    absl::StrAppend(&text, "\n  ", v.visit(), "  ", Day(v.period().start()), "  ",
                    EnumWord(v.type()), "  ", EnumWord(v.state()),
                    v.summary().empty() ? "" : "\n    " + v.summary());
  }
  absl::StrAppend(&text, "\nRecommendations to check:");
  if (b.open_recommendations().empty()) absl::StrAppend(&text, " none");
  for (const auto& r : b.open_recommendations()) {
    absl::StrAppend(&text, "\n  ", r.name(), "  issued ", Day(r.issued_on()), "  ",
                    EnumWord(r.status()), r.overdue() ? "  OVERDUE" : "",
                    r.last_checked_on().year() == 0
                        ? ""
                        : absl::StrCat("  last checked ", Day(r.last_checked_on()), ": ",
                                       EnumWord(r.last_observed_status())),
                    "\n    ", r.text());
  }
  absl::StrAppend(&text, "\nReprisal watch:");
  if (b.reprisal_watch().empty()) absl::StrAppend(&text, " none");
  for (const auto& w : b.reprisal_watch()) {
    absl::StrAppend(&text, "\n  ", w.pseudonym(), "  ", FormatTimestamp(w.conducted_at()), "  ",
                    w.location(), "  (", w.visit(), ")");
  }
  absl::StrAppend(&text, "\nOccupancy:");
  for (const auto& o : b.occupancy_trend()) {
    absl::StrAppend(&text, "  ", FormatTimestamp(o.taken_at()).substr(0, 10), " ", o.total(), "/",
                    o.official_capacity());
  }
  absl::StrAppend(&text, "\nEarlier findings:");
  for (const auto& c : b.findings_by_category()) {
    absl::StrAppend(&text, "  ", EnumWord(c.category()), " ", c.findings());
  }
  return text;
}

int Briefing(const Globals& g, const Args& a) {
  absl::StatusOr<std::string> visit = VisitArg(a.visit);
  if (!visit.ok()) return Usage(visit.status().message());
  int code = kExitOk;
  std::unique_ptr<client::Replica> replica = OpenHome(g, &code);
  if (!replica) return code;
  absl::StatusOr<vigil::v1::Briefing> briefing = absl::NotFoundError("");
  if (!a.offline) {
    if (!RequireProfile(g, *replica, &code)) return code;
    briefing = replica->FetchBriefing(*visit);
    if (!briefing.ok()) return Fail("downloading the briefing", briefing.status());
  } else {
    absl::StatusOr<std::optional<vigil::v1::Briefing>> kept = replica->StoredBriefing(*visit);
    if (!kept.ok()) return Fail("reading the briefing", kept.status());
    if (!kept->has_value()) {
      return Fail("reading the briefing",
                  absl::NotFoundError("no briefing kept for this visit: run without --offline"));
    }
    briefing = **kept;
  }
  g.out().Result(JsonObject().Proto("briefing", *briefing), BriefingText(*briefing));
  return kExitOk;
}

int Export(const Globals& g, const Args& a) {
  absl::StatusOr<std::string> visit = VisitArg(a.visit);
  if (!visit.ok()) return Usage(visit.status().message());
  absl::StatusOr<vigil::v1::ReportFormat> format = FormatArg(a.format);
  if (!format.ok()) return Usage(absl::StrCat("--format: ", format.status().message()));
  int code = kExitOk;
  ReviewSession s;
  std::unique_ptr<Stub> stub;
  if (!StartReport(g, s, stub, &code)) return code;
  vigil::v1::ExportVisitReportRequest request;
  request.set_name("visits/" + *visit);
  request.set_format(*format);
  vigil::v1::ExportVisitReportResponse response;
  auto context = CallContext();
  if (grpc::Status st = stub->ExportVisitReport(context.get(), request, &response); !st.ok()) {
    return Fail("exporting the report", st);
  }
  return Deliver(g, response.document(), a.out);
}

std::string Extension(vigil::v1::ReportFormat format) {
  switch (format) {
    case vigil::v1::REPORT_FORMAT_MARKDOWN:
      return "md";
    case vigil::v1::REPORT_FORMAT_HTML:
      return "html";
    default:
      return "json";
  }
}

// The published documents into `dir` (when given), each with its
// signature, and the public key; a line per document.
int ShowPublished(const Globals& g, const vigil::v1::PublishedReport& p, const std::string& dir) {
  if (!dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    absl::Status written = WriteFile(dir + "/public_key.bin", p.public_key());
    for (const auto& doc : p.documents()) {
      const std::string file = absl::StrCat(dir, "/report.", Extension(doc.format()));
      if (written.ok()) written = WriteFile(file, doc.content());
      if (written.ok()) written = WriteFile(file + ".sig", doc.signature());
    }
    if (!written.ok()) return Fail("writing the published report", written);
  }
  vigil::v1::PublishedReport meta = p;
  for (auto& doc : *meta.mutable_documents()) doc.clear_content();
  std::string text = absl::StrCat(p.visit(), " published ", FormatTimestamp(p.published_at()),
                                  " by ", p.published_by());
  for (const auto& doc : p.documents()) {
    absl::StrAppend(
        &text, "\n  ", Extension(doc.format()), "  SHA-256 ", doc.sha256(),
        dir.empty() ? "" : absl::StrCat("  ", dir, "/report.", Extension(doc.format())));
  }
  g.out().Result(JsonObject().Proto("published", meta), text);
  return kExitOk;
}

int Publish(const Globals& g, const Args& a, bool publish) {
  absl::StatusOr<std::string> visit = VisitArg(a.visit);
  if (!visit.ok()) return Usage(visit.status().message());
  int code = kExitOk;
  ReviewSession s;
  std::unique_ptr<Stub> stub;
  if (!StartReport(g, s, stub, &code)) return code;
  vigil::v1::PublishedReport published;
  grpc::Status st;
  if (publish) {
    vigil::v1::PublishVisitReportRequest request;
    request.set_name("visits/" + *visit);
    request.set_note(a.note);
    request.set_request_id(NewId());
    st = SameRequestRetried([&](grpc::ClientContext* context) {
      return stub->PublishVisitReport(context, request, &published);
    });
  } else {
    vigil::v1::GetPublishedReportRequest request;
    request.set_name("visits/" + *visit);
    auto context = CallContext();
    st = stub->GetPublishedReport(context.get(), request, &published);
  }
  if (!st.ok()) return Fail(publish ? "publishing the report" : "reading the report", st);
  return ShowPublished(g, published, a.out);
}

// Exit 0 when FILE's signature verifies under the key, 1 when it does not.
int Verify(const Globals& g, const Args& a) {
  absl::StatusOr<std::string> content = ReadFile(a.file);
  absl::StatusOr<std::string> signature =
      ReadFile(a.signature.empty() ? a.file + ".sig" : a.signature);
  absl::StatusOr<std::string> key = ReadFile(a.public_key);
  for (const auto* read : {&content, &signature, &key}) {
    if (!read->ok()) return Fail("reading", read->status());
  }
  if (signature->size() != crypto_sign_BYTES || key->size() != crypto_sign_PUBLICKEYBYTES) {
    return Usage(
        "the signature must be 64 bytes and the public key 32 (as `report published` "
        "writes them)");
  }
  const bool good = sodium_init() >= 0 &&
                    crypto_sign_verify_detached(
                        reinterpret_cast<const unsigned char*>(signature->data()),
                        reinterpret_cast<const unsigned char*>(content->data()), content->size(),
                        reinterpret_cast<const unsigned char*>(key->data())) == 0;
  g.out().Result(JsonObject().Str("file", a.file).Bool("verified", good),
                 good ? absl::StrCat(a.file, ": signature verified")
                      : absl::StrCat(a.file, ": signature does NOT verify"));
  return good ? kExitOk : 1;
}

int Statistics(const Globals& g, const Args& a) {
  absl::StatusOr<std::optional<vigil::v1::DateRange>> period = PeriodArg(a.from, a.to);
  if (!period.ok()) return Usage(period.status().message());
  if (!period->has_value()) return Usage("--from and --to are required");
  absl::StatusOr<vigil::v1::ReportFormat> format = FormatArg(a.format);
  if (!format.ok()) return Usage(absl::StrCat("--format: ", format.status().message()));
  int code = kExitOk;
  ReviewSession s;
  std::unique_ptr<Stub> stub;
  if (!StartReport(g, s, stub, &code)) return code;
  vigil::v1::GetStatisticsRequest request;
  *request.mutable_period() = **period;
  request.set_format(*format);
  vigil::v1::GetStatisticsResponse response;
  auto context = CallContext();
  if (grpc::Status st = stub->GetStatistics(context.get(), request, &response); !st.ok()) {
    return Fail("computing the statistics", st);
  }
  return Deliver(g, response.document(), a.out);
}

}  // namespace

void AddReportCommands(CLI::App& app, const Globals& g, const OnCommand& on) {
  auto a = std::make_shared<Args>();
  auto* briefing = app.add_subcommand("briefing", "a visit's briefing pack, kept on this device");
  briefing->add_option("VISIT_ID", a->visit, "visit id")->required();
  briefing->add_flag("--offline", a->offline, "show the copy kept here, without the server");
  on(briefing, [&g, a] { return Briefing(g, *a); });

  auto* report = app.add_subcommand("report", "visit reports: export, publish, verify");
  report->require_subcommand(1);
  auto* exp = report->add_subcommand("export", "the report as you may see it");
  exp->add_option("VISIT_ID", a->visit, "visit id")->required();
  exp->add_option("--format", a->format, "json (default), markdown or html");
  exp->add_option("--out", a->out, "file to write (default: standard output)");
  on(exp, [&g, a] { return Export(g, *a); });
  auto* publish = report->add_subcommand("publish", "publish an approved visit (NPM reviewers)");
  publish->add_option("VISIT_ID", a->visit, "visit id")->required();
  publish->add_option("--note", a->note, "kept with the move");
  publish->add_option("--out", a->out, "directory for the signed documents");
  on(publish, [&g, a] { return Publish(g, *a, true); });
  auto* published = report->add_subcommand("published", "the published report, as signed");
  published->add_option("VISIT_ID", a->visit, "visit id")->required();
  published->add_option("--out", a->out, "directory for the signed documents");
  on(published, [&g, a] { return Publish(g, *a, false); });
  auto* verify = report->add_subcommand("verify", "check a published document's signature");
  verify->add_option("FILE", a->file, "report.json, report.md or report.html")->required();
  verify->add_option("--signature", a->signature, "default: FILE.sig");
  verify->add_option("--public-key", a->public_key, "public_key.bin")->required();
  on(verify, [&g, a] { return Verify(g, *a); });

  auto* stats = app.add_subcommand("statistics", "the annual figures for a period");
  stats->add_option("--from", a->from, "first day (YYYY-MM-DD)")->required();
  stats->add_option("--to", a->to, "last day (YYYY-MM-DD)")->required();
  stats->add_option("--format", a->format, "json (default) or csv");
  stats->add_option("--out", a->out, "file to write (default: standard output)");
  on(stats, [&g, a] { return Statistics(g, *a); });
}

}  // namespace vigil::vigilctl
