#include "server/records/visit_index.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "base/status_macros.h"
#include "server/records/index_entries.h"
#include "google/protobuf/util/time_util.h"
#include "storage/key_codec.h"
#include "sync/scope.h"

namespace vigil::server {
namespace {


using google::protobuf::util::TimeUtil;
using storage::ColumnFamily;
using storage::KeyBuilder;
using vigil::internal::VisitSummary;
using vigil::v1::Record;

// A live record a reviewer has yet to look at: anything but the Visit record
// and comments, never marked or answered since.
bool AwaitsReview(const Record& r) {
  if (r.deleted() || r.body().has_visit() || r.body().has_comment()) return false;
  return r.review().state() != vigil::v1::REVIEW_MARK_STATE_ACCEPTED &&
         r.review().state() != vigil::v1::REVIEW_MARK_STATE_QUESTION;
}

std::string SummaryKey(std::string_view visit_id) {
  return KeyBuilder().AddString("visit").AddString(visit_id).key();
}
std::string EntryPrefix(const VisitIndexKey& key) {
  return KeyBuilder().AddString("vx").AddString(key.field).AddString(key.value).key();
}
std::string EntryKey(const VisitIndexKey& key, std::string_view visit_id) {
  return KeyBuilder()
      .AddString("vx")
      .AddString(key.field)
      .AddString(key.value)
      .AddString(visit_id)
      .key();
}
std::string QueuePrefix() { return KeyBuilder().AddString("vq").key(); }
std::string QueueKey(std::int64_t micros, std::string_view visit_id) {
  return KeyBuilder()
      .AddString("vq")
      .AddUint64(static_cast<std::uint64_t>(std::max<std::int64_t>(micros, 0)))
      .AddString(visit_id)
      .key();
}

// The visit an index entry names: ("vx", field, value, id) or ("vq",
// submitted micros, id).
absl::StatusOr<IndexedVisit> EntryOf(std::string_view key) {
  ASSIGN_OR_RETURN(storage::KeyReader reader, storage::KeyReader::Create(key));
  ASSIGN_OR_RETURN(const std::string table, reader.ReadString());
  IndexedVisit entry;
  if (table == "vq") {
    ASSIGN_OR_RETURN(const std::uint64_t micros, reader.ReadUint64());
    entry.submitted_micros = static_cast<std::int64_t>(micros);
  } else {
    RETURN_IF_ERROR(reader.ReadString().status());  // field
    RETURN_IF_ERROR(reader.ReadString().status());  // value
  }
  ASSIGN_OR_RETURN(entry.id, reader.ReadString());
  return entry;
}

// Every key a summary puts in the index besides its own.
std::set<std::string> KeysOf(std::string_view visit_id, const VisitSummary& s) {
  std::set<std::string> keys;
  for (const VisitIndexKey& key : IndexKeysOf(s)) keys.insert(EntryKey(key, visit_id));
  if (s.has_record() && !s.deleted() && InReviewQueue(s.state())) {
    keys.insert(QueueKey(s.submitted_unix_micros(), visit_id));
  }
  return keys;
}

absl::StatusOr<VisitSummary> ParseSummary(std::string_view raw) {
  VisitSummary summary;
  if (!summary.ParseFromArray(raw.data(), static_cast<int>(raw.size()))) {
    return absl::DataLossError("malformed visit summary in the index");
  }
  return summary;
}

vigil::v1::CivilDate DateOf(const google::protobuf::Timestamp& t) {
  const absl::CivilDay day =
      absl::ToCivilDay(absl::FromUnixSeconds(t.seconds()), absl::UTCTimeZone());
  vigil::v1::CivilDate date;
  date.set_year(static_cast<int>(day.year()));
  date.set_month(day.month());
  date.set_day(day.day());
  return date;
}

// The scope summary a record counts in: its visit's, if it is in one.
std::string_view VisitOf(const Record& record) { return sync::VisitIdOf(record.scope()); }

}  // namespace

bool InReviewQueue(vigil::v1::VisitState state) {
  return state == vigil::v1::VISIT_STATE_SUBMITTED || state == vigil::v1::VISIT_STATE_IN_REVIEW ||
         state == vigil::v1::VISIT_STATE_CHANGES_REQUESTED;
}

std::vector<VisitIndexKey> IndexKeysOf(const VisitSummary& s) {
  std::vector<VisitIndexKey> keys;
  if (!s.has_record() || s.deleted()) return keys;
  keys.push_back({"all", ""});
  if (!s.facility_id().empty()) keys.push_back({"facility", s.facility_id()});
  keys.push_back({"ftype", std::to_string(s.facility_type())});
  keys.push_back({"type", std::to_string(s.visit_type())});
  keys.push_back({"state", std::to_string(s.state())});
  for (const std::string& user : s.team_user_ids()) keys.push_back({"member", user});
  if (!s.reviewer_user_id().empty()) keys.push_back({"reviewer", s.reviewer_user_id()});
  // Each year its period touches (at most kMaxIndexedYears of them), for
  // the statistics of a period.
  const int first = s.period().start().year();
  const int last = std::max(first, s.period().end().year());
  if (first > 0) {
    for (int y = first; y <= std::min(last, first + kMaxIndexedYears - 1); ++y) {
      keys.push_back({"year", std::to_string(y)});
    }
  }
  return keys;
}

void SummarizeVisit(const Record& visit_record, const std::optional<vigil::v1::Facility>& facility,
                    VisitSummary& summary) {
  const vigil::v1::Visit& visit = visit_record.body().visit();
  summary.set_has_record(true);
  summary.set_deleted(visit_record.deleted());
  *summary.mutable_visit_record() = visit_record;
  // A deleted visit is in no index: its facility's later changes are not
  // followed there.
  const bool live = facility.has_value() && !visit_record.deleted();
  summary.set_facility_type(live ? facility->type() : vigil::v1::FACILITY_TYPE_UNSPECIFIED);
  summary.set_facility_name(live ? facility->name() : "");
  summary.set_facility_id(visit.facility_id());
  summary.set_visit_type(visit.type());
  summary.set_state(visit.state());
  summary.set_announced(visit.announced());
  summary.set_reviewer_user_id(visit.reviewer_user_id());
  summary.clear_period();
  if (visit.has_actual_start()) {
    *summary.mutable_period()->mutable_start() = DateOf(visit.actual_start());
    *summary.mutable_period()->mutable_end() =
        DateOf(visit.has_actual_end() ? visit.actual_end() : visit.actual_start());
  } else if (visit.has_planned_window()) {
    *summary.mutable_period() = visit.planned_window();
  }
  summary.set_submitted_unix_micros(0);
  for (const vigil::v1::VisitTransition& t : visit.transitions()) {
    if (t.to() == vigil::v1::VISIT_STATE_SUBMITTED &&
        t.from() != vigil::v1::VISIT_STATE_IN_REVIEW) {  // not a reviewer's hand-back
      summary.set_submitted_unix_micros(TimeUtil::TimestampToMicroseconds(t.at()));
    }
  }
}

std::map<std::string, std::string> IndexEntriesOf(
    const std::map<std::string, VisitSummary>& summaries) {
  std::map<std::string, std::string> entries;
  for (const auto& [id, summary] : summaries) {
    if (summary.ByteSizeLong() == 0) continue;
    entries[SummaryKey(id)] = summary.SerializeAsString();
    for (const std::string& key : KeysOf(id, summary)) entries[key] = "";
  }
  return entries;
}

absl::StatusOr<std::map<std::string, std::string>> StoredIndexEntries(storage::RangeScanFn scan) {
  return ReadIndexTables(scan, {"visit", "vx", "vq"});
}

namespace {

std::uint32_t Moved(std::uint32_t count, int delta) {
  return static_cast<std::uint32_t>(
      std::max<std::int64_t>(0, static_cast<std::int64_t>(count) + delta));
}

}  // namespace

// --- VisitIndexWriter ---

absl::StatusOr<VisitSummary> VisitIndexWriter::Summary(std::string_view visit_id) {
  ASSIGN_OR_RETURN(std::optional<std::string> raw,
                   ctx_.Get(ColumnFamily::kIndexes, SummaryKey(visit_id)));
  if (!raw.has_value()) return VisitSummary();
  return ParseSummary(*raw);
}

absl::Status VisitIndexWriter::Put(std::string_view visit_id, const VisitSummary& before,
                                   const VisitSummary& after) {
  const std::set<std::string> was = KeysOf(visit_id, before), is = KeysOf(visit_id, after);
  for (const std::string& key : was) {
    if (!is.contains(key)) ctx_.Delete(ColumnFamily::kIndexes, key);
  }
  for (const std::string& key : is) {
    if (!was.contains(key)) ctx_.Put(ColumnFamily::kIndexes, key, "");
  }
  // A visit with nothing to count and no record has no summary, as a
  // rebuild from the records finds.
  if (after.ByteSizeLong() == 0) {
    ctx_.Delete(ColumnFamily::kIndexes, SummaryKey(visit_id));
  } else {
    ctx_.Put(ColumnFamily::kIndexes, SummaryKey(visit_id), after.SerializeAsString());
  }
  return absl::OkStatus();
}

namespace {

// A live finding counts in its category (the list kept by category, none
// left at zero).
void CountFinding(VisitSummary& s, const vigil::v1::Finding& f, int sign) {
  auto& counts = *s.mutable_findings_by_category();
  auto it = std::lower_bound(counts.begin(), counts.end(), f.category(),
                             [](const vigil::v1::FindingCategoryCount& c, int category) {
                               return c.category() < category;
                             });
  if (it == counts.end() || it->category() != f.category()) {
    if (sign < 0) return;
    const auto at = it - counts.begin();
    counts.Add()->set_category(f.category());
    for (auto i = counts.size() - 1; i > at; --i) counts.SwapElements(i, i - 1);
    it = counts.begin() + at;
  }
  it->set_findings(Moved(it->findings(), sign));
  if (f.good_practice()) it->set_good_practices(Moved(it->good_practices(), sign));
  if (it->findings() == 0) counts.erase(it);
}

// Adds `sign` to the count of `key` in `counts` (kept sorted by key,
// without zero counts).
template <typename Count, typename Key, typename KeyOf, typename Add>
void Tally(google::protobuf::RepeatedPtrField<Count>& counts, const Key& key, KeyOf key_of,
           Add add, int sign) {
  auto it = std::lower_bound(counts.begin(), counts.end(), key,
                             [&](const Count& c, const Key& k) { return key_of(c) < k; });
  if (it == counts.end() || key_of(*it) != key) {
    if (sign < 0) return;
    const auto at = it - counts.begin();
    Count& added = *counts.Add();
    add(added, 0);  // sets the key
    for (auto i = counts.size() - 1; i > at; --i) counts.SwapElements(i, i - 1);
    it = counts.begin() + at;
  }
  if (add(*it, sign)) counts.erase(it);
}

void CountSeverity(VisitSummary& s, const vigil::v1::Finding& f, int sign) {
  const std::pair<int, int> key{f.category(), f.severity()};
  Tally(
      *s.mutable_findings_by_severity(), key,
      [](const vigil::v1::FindingCount& c) { return std::pair<int, int>(c.category(), c.severity()); },
      [&](vigil::v1::FindingCount& c, int by) {
        c.set_category(f.category());
        c.set_severity(f.severity());
        c.set_findings(Moved(c.findings(), by));
        if (f.good_practice()) c.set_good_practices(Moved(c.good_practices(), by));
        return c.findings() == 0 && by != 0;
      },
      sign);
}

void CountInterview(VisitSummary& s, const vigil::v1::Interview& i, int sign) {
  Tally(
      *s.mutable_interviews_by_kind(), static_cast<int>(i.kind()),
      [](const vigil::v1::InterviewCount& c) { return static_cast<int>(c.kind()); },
      [&](vigil::v1::InterviewCount& c, int by) {
        c.set_kind(i.kind());
        c.set_interviews(Moved(c.interviews(), by));
        return c.interviews() == 0 && by != 0;
      },
      sign);
}

// A live occupancy snapshot is one point of the visit's, by time taken.
void CountOccupancy(VisitSummary& s, const Record& r, int sign) {
  auto& points = *s.mutable_occupancy();
  const std::string name = "records/" + r.id();
  for (int i = 0; i < points.size(); ++i) {
    if (points[i].record() == name) {
      points.DeleteSubrange(i, 1);
      break;
    }
  }
  if (sign < 0) return;
  vigil::v1::OccupancyPoint point;
  point.set_record(name);
  point.set_visit(r.scope());
  *point.mutable_snapshot() = r.body().occupancy_snapshot();
  auto later = [&](const vigil::v1::OccupancyPoint& p) {
    const std::int64_t a = TimeUtil::TimestampToMicroseconds(p.snapshot().taken_at());
    const std::int64_t b = TimeUtil::TimestampToMicroseconds(point.snapshot().taken_at());
    return a > b || (a == b && p.record() > point.record());
  };
  int at = 0;
  while (at < points.size() && !later(points[at])) ++at;
  *points.Add() = std::move(point);
  for (int i = points.size() - 1; i > at; --i) points.SwapElements(i, i - 1);
}

}  // namespace

void CountRecord(VisitSummary& s, const Record& r, int sign) {
  if (!r.deleted()) s.set_records(s.records() + sign);
  if (AwaitsReview(r)) s.set_unreviewed(s.unreviewed() + sign);
  s.set_open_conflicts(s.open_conflicts() + sign * r.open_conflicts_size());
  if (r.deleted()) return;
  if (r.body().has_finding()) {
    CountFinding(s, r.body().finding(), sign);
    CountSeverity(s, r.body().finding(), sign);
  }
  if (r.body().has_interview()) CountInterview(s, r.body().interview(), sign);
  if (r.body().has_occupancy_snapshot()) CountOccupancy(s, r, sign);
}

absl::Status VisitIndexWriter::HeadWritten(const std::optional<Record>& previous,
                                           const Record& record, FacilityFn facility) {
  // A record counts in its visit's summary: out of the previous one's, into
  // the new one's (the same unless the record moved scope).
  const std::string was_in = previous.has_value() ? std::string(VisitOf(*previous)) : "";
  const std::string is_in(VisitOf(record));
  std::vector<std::string> visits;
  if (!was_in.empty()) visits.push_back(was_in);
  if (!is_in.empty() && is_in != was_in) visits.push_back(is_in);
  for (const std::string& visit_id : visits) {
    ASSIGN_OR_RETURN(VisitSummary before, Summary(visit_id));
    VisitSummary after = before;
    if (visit_id == was_in) CountRecord(after, *previous, -1);
    if (visit_id == is_in) CountRecord(after, record, +1);
    if (record.id() == visit_id && record.body().has_visit()) {
      ASSIGN_OR_RETURN(std::optional<vigil::v1::Facility> of,
                       facility(record.body().visit().facility_id()));
      SummarizeVisit(record, of, after);
    }
    RETURN_IF_ERROR(Put(visit_id, before, after));
  }
  // A facility's type is indexed on its visits.
  if (record.body().has_facility() &&
      (!previous.has_value() ||
       previous->body().facility().type() != record.body().facility().type() ||
       previous->body().facility().name() != record.body().facility().name())) {
    std::vector<std::string> visits;
    const std::string prefix = EntryPrefix({"facility", record.id()});
    absl::Status parsed;
    RETURN_IF_ERROR(ctx_.Scan(ColumnFamily::kIndexes, storage::KeyRange::Prefix(prefix),
                              [&](std::string_view key, std::string_view) {
                                absl::StatusOr<IndexedVisit> entry = EntryOf(key);
                                if (!entry.ok()) {
                                  parsed = entry.status();
                                  return false;
                                }
                                visits.push_back(std::move(entry->id));
                                return true;
                              }));
    RETURN_IF_ERROR(parsed);
    for (const std::string& visit_id : visits) {
      ASSIGN_OR_RETURN(VisitSummary before, Summary(visit_id));
      VisitSummary after = before;
      after.set_facility_type(record.body().facility().type());
      after.set_facility_name(record.body().facility().name());
      RETURN_IF_ERROR(Put(visit_id, before, after));
    }
  }
  return absl::OkStatus();
}

absl::Status VisitIndexWriter::LateChanged(std::string_view scope, int delta) {
  return Count(scope, [delta](VisitSummary& s) { s.set_pending_late(Moved(s.pending_late(), delta)); });
}

absl::Status VisitIndexWriter::ParallelChanged(std::string_view scope, int delta) {
  return Count(scope, [delta](VisitSummary& s) {
    s.set_unchecked_parallel(Moved(s.unchecked_parallel(), delta));
  });
}

absl::Status VisitIndexWriter::Count(std::string_view scope,
                                     absl::FunctionRef<void(VisitSummary&)> change) {
  const std::string_view visit_id = sync::VisitIdOf(scope);
  if (visit_id.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(VisitSummary before, Summary(visit_id));
  VisitSummary after = before;
  change(after);
  return Put(visit_id, before, after);
}

absl::Status VisitIndexWriter::TeamChanged(std::string_view visit_id,
                                           std::vector<std::string> members, std::string lead) {
  ASSIGN_OR_RETURN(VisitSummary before, Summary(visit_id));
  VisitSummary after = before;
  std::sort(members.begin(), members.end());
  after.clear_team_user_ids();
  for (std::string& m : members) after.add_team_user_ids(std::move(m));
  after.set_team_lead_user_id(std::move(lead));
  return Put(visit_id, before, after);
}

// --- VisitIndexReader ---

absl::StatusOr<std::optional<VisitSummary>> VisitIndexReader::Summary(std::string_view visit_id) {
  ASSIGN_OR_RETURN(std::optional<std::string> raw,
                   storage_.Get(ColumnFamily::kIndexes, SummaryKey(visit_id), &snapshot_));
  if (!raw.has_value()) return std::nullopt;
  return ParseSummary(*raw);
}

absl::Status VisitIndexReader::SummariesOf(
    const std::vector<std::string>& ids,
    absl::FunctionRef<bool(std::size_t, const VisitSummary&)> visit) {
  std::vector<std::string> keys;
  keys.reserve(ids.size());
  for (const std::string& id : ids) keys.push_back(SummaryKey(id));
  absl::Status failed;
  RETURN_IF_ERROR(storage_.MultiGet(
      ColumnFamily::kIndexes, keys, &snapshot_,
      [&](std::size_t i, std::optional<std::string_view> raw) {
        if (!raw.has_value()) {
          failed = absl::DataLossError(absl::StrCat("index entry of visit ", ids[i],
                                                    " without its summary"));
          return false;
        }
        absl::StatusOr<VisitSummary> summary = ParseSummary(*raw);
        if (!summary.ok()) {
          failed = summary.status();
          return false;
        }
        return visit(i, *summary);
      }));
  return failed;
}

absl::Status VisitIndexReader::ScanEntries(
    storage::KeyRange range,
    absl::FunctionRef<bool(const IndexedVisit&, const VisitSummary&)> visit) {
  // Entries are read in batches, their summaries in one lookup per batch.
  constexpr std::size_t kBatch = 64;
  std::vector<IndexedVisit> entries;
  std::vector<std::string> ids;
  while (true) {
    entries.clear();
    ids.clear();
    std::string last_key;
    absl::Status failed;
    RETURN_IF_ERROR(storage_.Scan(ColumnFamily::kIndexes, range, &snapshot_,
                                  [&](std::string_view key, std::string_view) {
                                    absl::StatusOr<IndexedVisit> entry = EntryOf(key);
                                    if (!entry.ok()) {
                                      failed = entry.status();
                                      return false;
                                    }
                                    ids.push_back(entry->id);
                                    entries.push_back(*std::move(entry));
                                    last_key = std::string(key);
                                    return entries.size() < kBatch;
                                  }));
    RETURN_IF_ERROR(failed);
    bool stopped = false;
    RETURN_IF_ERROR(SummariesOf(ids, [&](std::size_t i, const VisitSummary& s) {
      stopped = !visit(entries[i], s);
      return !stopped;
    }));
    if (stopped || entries.size() < kBatch) return absl::OkStatus();
    range.begin = last_key + '\0';
  }
}

absl::Status VisitIndexReader::Scan(
    const VisitIndexKey& key, std::string_view after_id,
    absl::FunctionRef<bool(std::string_view id, const VisitSummary&)> visit) {
  storage::KeyRange range = storage::KeyRange::Prefix(EntryPrefix(key));
  if (!after_id.empty()) range.begin = EntryKey(key, after_id) + '\0';
  return ScanEntries(range, [&](const IndexedVisit& entry, const VisitSummary& s) {
    return visit(entry.id, s);
  });
}

absl::Status VisitIndexReader::ScanQueue(
    std::int64_t after_micros, std::string_view after_id,
    absl::FunctionRef<bool(std::int64_t, std::string_view, const VisitSummary&)> visit) {
  storage::KeyRange range = storage::KeyRange::Prefix(QueuePrefix());
  if (!after_id.empty()) range.begin = QueueKey(after_micros, after_id) + '\0';
  return ScanEntries(range, [&](const IndexedVisit& entry, const VisitSummary& s) {
    return visit(entry.submitted_micros, entry.id, s);
  });
}

}  // namespace vigil::server
