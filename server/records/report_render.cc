#include "server/records/report_render.h"

#include <cctype>
#include <map>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "base/error_reason.h"
#include "base/sha256.h"
#include "base/status_macros.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/json_util.h"

namespace vigil::server {
namespace {

using vigil::v1::ReportFinding;
using vigil::v1::VisitReport;

// The outline both readable formats are laid out from: one block each.
struct Block {
  enum class Kind { kHeading, kParagraph, kItems, kQuote, kTable };
  Kind kind = Kind::kParagraph;
  int level = 0;                               // heading
  std::string text;                            // heading, paragraph ('\n' between lines), quote
  std::string attribution;                     // quote
  std::vector<std::string> items;              // list items; a table's header
  std::vector<std::vector<std::string>> rows;  // table
};

Block Heading(int level, std::string text) {
  Block b;
  b.kind = Block::Kind::kHeading;
  b.level = level;
  b.text = std::move(text);
  return b;
}
Block Paragraph(std::string text) {
  Block b;
  b.text = std::move(text);
  return b;
}
Block Items(std::vector<std::string> items) {
  Block b;
  b.kind = Block::Kind::kItems;
  b.items = std::move(items);
  return b;
}
Block Quote(std::string text, std::string attribution) {
  Block b;
  b.kind = Block::Kind::kQuote;
  b.text = std::move(text);
  b.attribution = std::move(attribution);
  return b;
}
Block Table(std::vector<std::string> header) {
  Block b;
  b.kind = Block::Kind::kTable;
  b.items = std::move(header);
  return b;
}

// "FINDING_CATEGORY_MATERIAL_CONDITIONS" -> "Material conditions".
template <typename Enum>
std::string Label(Enum value) {
  const google::protobuf::EnumDescriptor* type = google::protobuf::GetEnumDescriptor<Enum>();
  const google::protobuf::EnumValueDescriptor* v = type->FindValueByNumber(value);
  if (v == nullptr) return absl::StrCat(static_cast<int>(value));
  std::string prefix;
  for (char c : type->name()) {
    if (std::isupper(static_cast<unsigned char>(c)) && !prefix.empty()) prefix.push_back('_');
    prefix.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  std::string name = v->name();
  if (name.rfind(prefix + "_", 0) == 0) name = name.substr(prefix.size() + 1);
  for (std::size_t i = 0; i < name.size(); ++i) {
    name[i] = name[i] == '_'
                  ? ' '
                  : static_cast<char>(i == 0 ? name[i]
                                             : std::tolower(static_cast<unsigned char>(name[i])));
  }
  return name;
}

std::string Day(const vigil::v1::CivilDate& d) {
  if (d.year() == 0) return "not set";
  return absl::StrFormat("%04d-%02d-%02d", d.year(), d.month(), d.day());
}

std::string Period(const vigil::v1::DateRange& r) {
  return absl::StrCat(Day(r.start()), " to ", Day(r.end()));
}

std::string Time(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "not set";
  return absl::FormatTime("%Y-%m-%d %H:%M UTC", absl::FromUnixSeconds(t.seconds()),
                          absl::UTCTimeZone());
}

std::string YesNo(bool b) { return b ? "yes" : "no"; }

void AddFinding(std::vector<Block>& out, const ReportFinding& f) {
  std::string title = f.title().empty() ? "(untitled)" : f.title();
  if (f.severity() != vigil::v1::SEVERITY_UNSPECIFIED) {
    absl::StrAppend(&title, " (", Label(f.severity()), ")");
  }
  out.push_back(Heading(4, std::move(title)));
  std::vector<std::string> facts;
  if (!f.subcategory().empty()) facts.push_back(absl::StrCat("Subcategory: ", f.subcategory()));
  if (!f.location().empty()) facts.push_back(absl::StrCat("Where: ", f.location()));
  std::vector<std::string> sources;
  for (int s : f.sources()) sources.push_back(Label(static_cast<vigil::v1::SourceType>(s)));
  if (!sources.empty()) facts.push_back(absl::StrCat("Sources: ", absl::StrJoin(sources, ", ")));
  if (!facts.empty()) out.push_back(Items(std::move(facts)));
  if (!f.narrative().empty()) out.push_back(Paragraph(f.narrative()));
  for (const vigil::v1::ReportQuote& q : f.quotes()) out.push_back(Quote(q.text(), q.pseudonym()));
  for (const vigil::v1::ReportPhoto& p : f.photos()) {
    out.push_back(Items({absl::StrCat("Photo: ", p.caption().empty() ? "(no caption)" : p.caption(),
                                      " (", p.media_type(), ", taken ", Time(p.captured_at()),
                                      ", SHA-256 ", p.sha256(), ")")}));
  }
}

std::vector<Block> Outline(const VisitReport& r) {
  std::vector<Block> out;
  const vigil::v1::ReportPlace& place = r.place();
  out.push_back(
      Heading(1, absl::StrCat("Visit report: ", place.name().empty() ? r.visit() : place.name())));
  out.push_back(Paragraph(absl::StrCat(r.visit(), ", ", Label(r.state()), ". Generated ",
                                       Time(r.generated_at()), " (", r.schema(), ").")));
  out.push_back(Heading(2, "Summary"));
  out.push_back(Paragraph(r.summary().empty() ? "No summary." : r.summary()));

  const vigil::v1::ReportVisit& v = r.visit_details();
  out.push_back(Heading(2, "The visit"));
  std::vector<std::string> facts = {absl::StrCat("Type: ", Label(v.type())),
                                    absl::StrCat("Announced: ", YesNo(v.announced()))};
  if (r.withheld().unannounced_plan()) {
    facts.push_back("Plan and team: not shown, the unannounced visit has not started");
  } else {
    facts.push_back(absl::StrCat("Planned: ", Period(v.planned_window())));
  }
  facts.push_back(absl::StrCat("Started: ", Time(v.actual_start())));
  facts.push_back(absl::StrCat("Ended: ", Time(v.actual_end())));
  if (!v.themes().empty())
    facts.push_back(absl::StrCat("Themes: ", absl::StrJoin(v.themes(), ", ")));
  std::vector<std::string> interviews;
  for (const vigil::v1::ReportInterviewCount& c : v.interviews()) {
    interviews.push_back(absl::StrCat(Label(c.kind()), " ", c.interviews()));
  }
  facts.push_back(absl::StrCat(
      "Interviews: ", interviews.empty() ? std::string("none") : absl::StrJoin(interviews, ", ")));
  out.push_back(Items(std::move(facts)));
  if (!v.team().empty()) {
    Block team = Table({"Team member", "Role"});
    for (const vigil::v1::ReportTeamMember& m : v.team()) {
      team.rows.push_back({m.display_name(), Label(m.role())});
    }
    out.push_back(std::move(team));
  }
  if (!v.objectives().empty()) {
    out.push_back(Heading(3, "Objectives"));
    out.push_back(Paragraph(v.objectives()));
  }
  out.push_back(Heading(3, "Cooperation"));
  out.push_back(Paragraph(v.cooperation().empty() ? "Not recorded." : v.cooperation()));
  if (!v.register_checks().empty()) {
    out.push_back(Heading(3, "Registers checked"));
    Block t = Table({"Register", "Name", "Period", "Entries reviewed", "Discrepancies"});
    for (const vigil::v1::ReportRegisterCheck& c : v.register_checks()) {
      t.rows.push_back({Label(c.register_type()), c.register_name(), Period(c.period()),
                        absl::StrCat(c.entries_reviewed()), absl::StrCat(c.discrepancies())});
    }
    out.push_back(std::move(t));
  }

  out.push_back(Heading(2, "The place"));
  std::vector<std::string> where = {
      absl::StrCat("Type: ", Label(place.type())),
      absl::StrCat("Operated by: ", place.operator_().empty() ? "not known" : place.operator_()),
      absl::StrCat("Official capacity: ", place.official_capacity())};
  std::vector<std::string> populations;
  for (int p : place.populations_held()) {
    populations.push_back(Label(static_cast<vigil::v1::Population>(p)));
  }
  if (!populations.empty()) {
    where.push_back(absl::StrCat("Holds: ", absl::StrJoin(populations, ", ")));
  }
  if (place.has_occupancy()) {
    const vigil::v1::ReportOccupancy& o = place.occupancy();
    where.push_back(absl::StrCat("Occupancy on ", Time(o.taken_at()), ": ", o.total(),
                                 " (capacity ", o.official_capacity(), "; women ", o.women(),
                                 ", juveniles ", o.juveniles(), ", foreign nationals ",
                                 o.foreigners(), ", pre-trial ", o.pre_trial(), ")",
                                 o.source().empty() ? "" : absl::StrCat("; source: ", o.source())));
  }
  out.push_back(Items(std::move(where)));

  const vigil::v1::ReportChanges& c = r.changes_since_last_visit();
  out.push_back(Heading(2, "Changes since the last visit"));
  if (c.previous_visit().empty()) {
    out.push_back(Paragraph("This is the first visit on record."));
  } else {
    out.push_back(Paragraph(absl::StrCat("Previous visit: ", c.previous_visit(), ", ",
                                         Period(c.previous_period()),
                                         ". Occupancy then: ", c.previous_occupancy_total(), ".")));
    std::map<int, std::pair<std::uint32_t, std::uint32_t>> counts;
    for (const auto& p : c.previous_findings_by_category())
      counts[p.category()].first = p.findings();
    for (const auto& n : c.findings_by_category()) counts[n.category()].second = n.findings();
    Block t = Table({"Findings", "Previous visit", "This visit"});
    for (const auto& [category, n] : counts) {
      t.rows.push_back({Label(static_cast<vigil::v1::FindingCategory>(category)),
                        absl::StrCat(n.first), absl::StrCat(n.second)});
    }
    if (!t.rows.empty()) out.push_back(std::move(t));
  }
  if (!c.follow_ups().empty()) {
    out.push_back(Heading(3, "Recommendations followed up"));
    std::vector<std::string> items;
    for (const vigil::v1::ReportFollowUp& f : c.follow_ups()) {
      items.push_back(absl::StrCat(f.recommendation_text(), " (issued ", Day(f.issued_on()),
                                   "): found ", Label(f.observed_status()),
                                   f.note().empty() ? "" : absl::StrCat(". ", f.note())));
    }
    out.push_back(Items(std::move(items)));
  }

  out.push_back(Heading(2, "Findings"));
  if (r.findings_by_theme().empty()) out.push_back(Paragraph("No findings."));
  for (const vigil::v1::ReportTheme& theme : r.findings_by_theme()) {
    out.push_back(Heading(3, Label(theme.category())));
    for (const ReportFinding& f : theme.findings()) AddFinding(out, f);
  }
  out.push_back(Heading(2, "Good practices"));
  if (r.good_practices().empty()) out.push_back(Paragraph("None recorded."));
  for (const ReportFinding& f : r.good_practices()) AddFinding(out, f);

  out.push_back(Heading(2, "Recommendations"));
  if (r.recommendations_by_addressee().empty()) out.push_back(Paragraph("None made."));
  for (const vigil::v1::ReportAddressee& a : r.recommendations_by_addressee()) {
    out.push_back(Heading(3, absl::StrCat("To ", a.name().empty() ? a.authority() : a.name())));
    Block t = Table({"Recommendation", "Theme", "Priority", "Deadline", "Status"});
    for (const vigil::v1::ReportRecommendation& rec : a.recommendations()) {
      t.rows.push_back({absl::StrCat(rec.text(), rec.repeated() ? " (repeated)" : ""), rec.theme(),
                        Label(rec.priority()), Day(rec.deadline()), Label(rec.status())});
    }
    out.push_back(std::move(t));
  }

  const vigil::v1::ReportWithheld& w = r.withheld();
  if (w.quotes_without_consent() > 0 || w.photos_identifiable_or_without_consent() > 0) {
    out.push_back(Heading(2, "Left out to protect people"));
    out.push_back(Items(
        {absl::StrCat("Quotes without the interviewee's consent: ", w.quotes_without_consent()),
         absl::StrCat("Photos that identify someone or lack consent: ",
                      w.photos_identifiable_or_without_consent())}));
  }
  return out;
}

std::vector<std::string> Lines(std::string_view s) {
  std::vector<std::string> out(1);
  for (char c : s) {
    if (c == '\n') {
      out.emplace_back();
    } else {
      out.back().push_back(c);
    }
  }
  return out;
}

// CommonMark: characters that could start markup are escaped (a raw
// HTML tag's '<' among them), and so is what would make a line a list
// item or a heading ("- ", "1. ", "+", "=").
std::string MdText(std::string_view s) {
  std::string out;
  bool digits_only = true;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool markup = std::string_view("\\`*_[]<>|#~&!").find(c) != std::string_view::npos;
    const bool line_start = i == 0 && std::string_view("-+=").find(c) != std::string_view::npos;
    const bool list_number = digits_only && i > 0 && (c == '.' || c == ')');
    if (markup || line_start || list_number) out.push_back('\\');
    digits_only = digits_only && std::isdigit(static_cast<unsigned char>(c));
    out.push_back(c == '\n' || c == '\r' ? ' ' : c);
  }
  return out;
}

std::string MdLines(std::string_view s) {
  std::vector<std::string> lines;
  for (const std::string& line : Lines(s)) lines.push_back(MdText(line));
  // A hard break for each line, a blank line between paragraphs.
  std::string out;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    out += lines[i];
    if (i + 1 < lines.size()) out += lines[i].empty() || lines[i + 1].empty() ? "\n" : "\\\n";
  }
  return out;
}

std::string Markdown(const std::vector<Block>& blocks) {
  std::string out;
  auto row = [&](const std::vector<std::string>& cells) {
    out += "|";
    for (const std::string& cell : cells) absl::StrAppend(&out, " ", MdText(cell), " |");
    out += "\n";
  };
  for (const Block& b : blocks) {
    switch (b.kind) {
      case Block::Kind::kHeading:
        absl::StrAppend(&out, std::string(b.level, '#'), " ", MdText(b.text), "\n\n");
        break;
      case Block::Kind::kParagraph:
        absl::StrAppend(&out, MdLines(b.text), "\n\n");
        break;
      case Block::Kind::kItems:
        for (const std::string& item : b.items) absl::StrAppend(&out, "- ", MdText(item), "\n");
        out += "\n";
        break;
      case Block::Kind::kQuote:
        for (const std::string& line : Lines(b.text))
          absl::StrAppend(&out, "> ", MdText(line), "\n");
        absl::StrAppend(&out, ">\n> (", MdText(b.attribution), ")\n\n");
        break;
      case Block::Kind::kTable:
        row(b.items);
        out += "|";
        for (std::size_t i = 0; i < b.items.size(); ++i) out += " --- |";
        out += "\n";
        for (const auto& r : b.rows) row(r);
        out += "\n";
        break;
    }
  }
  return out;
}

std::string HtmlText(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      case '\n':
        out += "<br>";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

constexpr char kStyle[] =
    "body{font-family:system-ui,sans-serif;max-width:50rem;margin:2rem auto;padding:0 1rem;"
    "line-height:1.5;color:#111}table{border-collapse:collapse;margin:1rem 0}"
    "th,td{border:1px solid #999;padding:.25rem .5rem;text-align:left;vertical-align:top}"
    "blockquote{border-left:.25rem solid #999;margin:1rem 0;padding-left:1rem}"
    "figcaption{color:#444}";

std::string Html(const std::vector<Block>& blocks, std::string_view title) {
  std::string out = absl::StrCat(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
      "style-src 'unsafe-inline'\">\n<meta name=\"viewport\" "
      "content=\"width=device-width, initial-scale=1\">\n<title>",
      HtmlText(title), "</title>\n<style>", kStyle, "</style>\n</head>\n<body>\n");
  for (const Block& b : blocks) {
    switch (b.kind) {
      case Block::Kind::kHeading:
        absl::StrAppend(&out, "<h", b.level, ">", HtmlText(b.text), "</h", b.level, ">\n");
        break;
      case Block::Kind::kParagraph:
        absl::StrAppend(&out, "<p>", HtmlText(b.text), "</p>\n");
        break;
      case Block::Kind::kItems:
        out += "<ul>\n";
        for (const std::string& item : b.items) {
          absl::StrAppend(&out, "<li>", HtmlText(item), "</li>\n");
        }
        out += "</ul>\n";
        break;
      case Block::Kind::kQuote:
        absl::StrAppend(&out, "<figure><blockquote>", HtmlText(b.text), "</blockquote><figcaption>",
                        HtmlText(b.attribution), "</figcaption></figure>\n");
        break;
      case Block::Kind::kTable:
        out += "<table>\n<thead><tr>";
        for (const std::string& cell : b.items) {
          absl::StrAppend(&out, "<th>", HtmlText(cell), "</th>");
        }
        out += "</tr></thead>\n<tbody>\n";
        for (const auto& r : b.rows) {
          out += "<tr>";
          for (const std::string& cell : r) absl::StrAppend(&out, "<td>", HtmlText(cell), "</td>");
          out += "</tr>\n";
        }
        out += "</tbody>\n</table>\n";
        break;
    }
  }
  out += "</body>\n</html>\n";
  return out;
}

absl::StatusOr<std::string> Json(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(message, &json, options).ok()) {
    return absl::InternalError("the document cannot be written as JSON");
  }
  return json;
}

absl::Status FormatInvalid(vigil::v1::ReportFormat format) {
  return WithReason(absl::InvalidArgumentError("format names no format of this document"),
                    "FORMAT_INVALID", {{"format", absl::StrCat(static_cast<int>(format))}});
}

std::string CsvField(std::string_view s) {
  if (s.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(s);
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

// One row per figure: table, three dimensions, value.
class Csv {
 public:
  Csv() : out_("table,dimension_1,dimension_2,dimension_3,value\r\n") {}
  template <typename Value>
  void Row(std::string_view table, std::string_view d1, std::string_view d2, std::string_view d3,
           Value value) {
    absl::StrAppend(&out_, CsvField(table), ",", CsvField(d1), ",", CsvField(d2), ",", CsvField(d3),
                    ",", value, "\r\n");
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

std::string StatisticsCsv(const vigil::v1::Statistics& st) {
  Csv csv;
  csv.Row("visits_total", "", "", "", st.visits_total());
  for (const auto& v : st.visits()) {
    csv.Row("visits", Label(v.facility_type()), Label(v.visit_type()),
            v.announced() ? "announced" : "unannounced", v.visits());
  }
  for (const auto& p : st.places()) {
    csv.Row("place_visits", p.name(), p.facility(), Label(p.type()), p.visits());
    csv.Row("place_official_capacity", p.name(), p.facility(), "", p.official_capacity());
    csv.Row("place_occupancy", p.name(), p.facility(), "", p.occupancy());
    csv.Row("place_occupancy_rate", p.name(), p.facility(), p.overcrowded() ? "overcrowded" : "",
            p.occupancy_rate());
  }
  for (const auto& i : st.interviews())
    csv.Row("interviews", Label(i.kind()), "", "", i.interviews());
  csv.Row("occupancy_at_visits", "", "", "", st.occupancy_at_visits());
  for (const auto& f : st.findings()) {
    csv.Row("findings", Label(f.category()), Label(f.severity()), "", f.findings());
    if (f.good_practices() > 0) {
      csv.Row("good_practices", Label(f.category()), Label(f.severity()), "", f.good_practices());
    }
  }
  for (const auto& r : st.recommendations()) {
    csv.Row("recommendations", r.addressee_name(), r.addressee(), r.theme(), r.recommendations());
  }
  const auto& i = st.implementation();
  csv.Row("implementation", "issued", "", "", i.issued());
  csv.Row("implementation", "implemented", "", "", i.implemented());
  csv.Row("implementation", "partially implemented", "", "", i.partially_implemented());
  csv.Row("implementation", "not implemented", "", "", i.not_implemented());
  csv.Row("implementation", "no response", "", "", i.no_response());
  csv.Row("implementation", "rejected", "", "", i.rejected());
  csv.Row("implementation", "rate", "", "", i.implementation_rate());
  const auto& t = st.response_times();
  csv.Row("responses", "responded", "", "", t.responded());
  csv.Row("responses", "by deadline", "", "", t.responded_by_deadline());
  csv.Row("responses", "after deadline", "", "", t.responded_after_deadline());
  csv.Row("responses", "without deadline", "", "", t.responded_without_deadline());
  csv.Row("responses", "none, overdue", "", "", t.no_response_overdue());
  csv.Row("responses", "none, pending", "", "", t.no_response_pending());
  csv.Row("responses", "mean days", "", "", t.mean_days_to_response());
  csv.Row("responses", "median days", "", "", t.median_days_to_response());
  csv.Row("repeated_recommendations", "", "", "", st.repeated_recommendations());
  return csv.Take();
}

}  // namespace

absl::StatusOr<vigil::v1::ReportDocument> RenderStatistics(const vigil::v1::Statistics& stats,
                                                           vigil::v1::ReportFormat format) {
  vigil::v1::ReportDocument doc;
  switch (format) {
    case vigil::v1::REPORT_FORMAT_UNSPECIFIED:
    case vigil::v1::REPORT_FORMAT_JSON: {
      doc.set_format(vigil::v1::REPORT_FORMAT_JSON);
      doc.set_media_type("application/json");
      ASSIGN_OR_RETURN(*doc.mutable_content(), Json(stats));
      break;
    }
    case vigil::v1::REPORT_FORMAT_CSV:
      doc.set_format(format);
      doc.set_media_type("text/csv; charset=utf-8");
      doc.set_content(StatisticsCsv(stats));
      break;
    default:
      return FormatInvalid(format);
  }
  doc.set_sha256(Sha256::HexOf(doc.content()));
  return doc;
}

absl::StatusOr<vigil::v1::ReportDocument> RenderReport(const VisitReport& report,
                                                       vigil::v1::ReportFormat format) {
  vigil::v1::ReportDocument doc;
  doc.set_format(format);
  switch (format) {
    case vigil::v1::REPORT_FORMAT_UNSPECIFIED:
    case vigil::v1::REPORT_FORMAT_JSON: {
      doc.set_format(vigil::v1::REPORT_FORMAT_JSON);
      doc.set_media_type("application/json");
      ASSIGN_OR_RETURN(*doc.mutable_content(), Json(report));
      break;
    }
    case vigil::v1::REPORT_FORMAT_MARKDOWN:
      doc.set_media_type("text/markdown; charset=utf-8");
      doc.set_content(Markdown(Outline(report)));
      break;
    case vigil::v1::REPORT_FORMAT_HTML:
      doc.set_media_type("text/html; charset=utf-8");
      doc.set_content(Html(Outline(report), absl::StrCat("Visit report: ", report.place().name())));
      break;
    default:
      return FormatInvalid(format);
  }
  doc.set_sha256(Sha256::HexOf(doc.content()));
  return doc;
}

}  // namespace vigil::server
