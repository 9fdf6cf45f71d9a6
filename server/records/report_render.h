// The documents of a visit report: protobuf's JSON mapping of the
// VisitReport, and a readable document in Markdown (CommonMark) and in one
// self-contained HTML file, both laid out from one outline so that they
// hold the same text. Rendering adds nothing that is not in the report: the
// protection rules are applied when the report is built (visit_report.cc).
// Every text from a record is escaped (Markdown punctuation, HTML
// entities); the HTML has no script and loads nothing. Pure functions:
// the same report gives the same bytes.
#ifndef VIGIL_SERVER_RECORDS_REPORT_RENDER_H_
#define VIGIL_SERVER_RECORDS_REPORT_RENDER_H_

#include <string>

#include "absl/status/statusor.h"
#include "vigil/v1/report.pb.h"

namespace vigil::server {

inline constexpr char kVisitReportSchema[] = "vigil.visit-report/1";

// The document of `report` in `format` (UNSPECIFIED is JSON), with its
// media type and SHA-256; no signature. INVALID_ARGUMENT (FORMAT_INVALID)
// for a value that names no format.
absl::StatusOr<vigil::v1::ReportDocument> RenderReport(const vigil::v1::VisitReport& report,
                                                       vigil::v1::ReportFormat format);

// The document of `stats` in `format`: JSON (UNSPECIFIED too), or CSV
// (RFC 4180) with the header "table,dimension_1,dimension_2,dimension_3,
// value" and one row per figure. INVALID_ARGUMENT (FORMAT_INVALID) for
// any other format.
absl::StatusOr<vigil::v1::ReportDocument> RenderStatistics(const vigil::v1::Statistics& stats,
                                                           vigil::v1::ReportFormat format);

}  // namespace vigil::server

#endif  // VIGIL_SERVER_RECORDS_REPORT_RENDER_H_
