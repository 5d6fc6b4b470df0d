#include "api/scrape_jobs.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace jrvs::api {

struct ScrapeJobs::Job {
  JobSnapshot snapshot;  // guarded by ScrapeJobs::mu_
  scrape::CrawlOptions options;
  std::atomic<bool> cancel{false};
  std::thread thread;
  std::condition_variable finished_cv;  // signalled (with mu_) when the job ends
};

const char* JobStateName(JobState s) {
  switch (s) {
    case JobState::kQueued:
      return "queued";
    case JobState::kRunning:
      return "running";
    case JobState::kDone:
      return "done";
    case JobState::kFailed:
      return "failed";
    case JobState::kCancelled:
      return "cancelled";
  }
  return "failed";
}

MetricFamily<Counter>& ScrapePagesCounter(MetricsRegistry& metrics) {
  return metrics.AddCounter("scrape_pages_total",
                            "Scraped pages by outcome (added, updated, unchanged, skipped, "
                            "failed), single pages and crawls.",
                            {"status"});
}

namespace {
bool Finished(JobState s) {
  return s == JobState::kDone || s == JobState::kFailed || s == JobState::kCancelled;
}
}  // namespace

ScrapeJobs::ScrapeJobs(scrape::Fetcher& fetcher, const PageIngester& ingester,
                       ScrapeJobsOptions options, const Clock& clock, MetricsRegistry* metrics)
    : fetcher_(fetcher),
      ingester_(ingester),
      options_(options),
      clock_(clock),
      rng_(std::random_device{}()) {
  if (metrics != nullptr) {
    pages_total_ = &ScrapePagesCounter(*metrics);
    jobs_running_ =
        &metrics->AddGauge("scrape_jobs_running", "Background crawls in progress.").Get();
  }
}

ScrapeJobs::~ScrapeJobs() {
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mu_);
    for (auto& [id, job] : jobs_) {
      job->cancel = true;
      if (job->thread.joinable()) threads.push_back(std::move(job->thread));
    }
  }
  for (auto& t : threads) t.join();
}

Result<std::string> ScrapeJobs::Start(std::string url, scrape::CrawlOptions options) {
  if (Status s = options.Validate(); !s.ok()) return Error(s);
  auto job = std::make_shared<Job>();
  std::vector<std::thread> reaped;
  Result<std::string> result;
  {
    std::lock_guard lock(mu_);
    int64_t now = clock_.NowUnixMs();
    PruneLocked(now, &reaped);
    if (running_ >= options_.max_running) {
      result = Error(StatusCode::kResourceExhausted,
                     fmt::format("{} crawls are already running; try again later", running_));
    } else {
      std::string id;
      do {
        id = fmt::format("{:016x}", rng_());
      } while (jobs_.count(id) > 0);
      job->snapshot.id = id;
      job->snapshot.url = std::move(url);
      job->snapshot.created_at_ms = now;
      job->snapshot.state = JobState::kQueued;
      job->options = std::move(options);
      jobs_[id] = job;
      ++running_;
      if (jobs_running_) jobs_running_->Add(1);
      job->thread = std::thread([this, job] { RunJob(job); });
      result = id;
    }
  }
  for (auto& t : reaped) t.join();
  return result;
}

void ScrapeJobs::RunJob(const std::shared_ptr<Job>& job) {
  std::string url;
  {
    std::lock_guard lock(mu_);
    job->snapshot.state = JobState::kRunning;
    job->snapshot.started_at_ms = clock_.NowUnixMs();
    url = job->snapshot.url;
  }
  scrape::Crawler crawler(fetcher_, job->options);
  const PageIngester& ingester = ingester_;
  scrape::PageSink sink = [&ingester](const scrape::CrawledPage& p) { return ingester.Sink(p); };
  scrape::ProgressCallback progress = [this, &job](const scrape::CrawlProgress& totals,
                                                   const scrape::PageReport* finished) {
    if (finished && pages_total_) {
      pages_total_->WithLabels({scrape::PageStatusName(finished->status)}).Inc();
    }
    std::lock_guard lock(mu_);
    job->snapshot.progress = totals;
    if (finished) job->snapshot.results.push_back(*finished);
  };
  scrape::CrawlReport report =
      crawler.Run(url, sink, ingester_.MakePriorLookup(), progress, &job->cancel);

  std::lock_guard lock(mu_);
  JobSnapshot& s = job->snapshot;
  s.progress = report.totals;
  s.results = std::move(report.pages);
  s.finished_at_ms = clock_.NowUnixMs();
  // "failed" when no page could be stored (or found unchanged) at all; a crawl with some
  // failed or skipped pages is "done" and lists them.
  if (report.cancelled) {
    s.state = JobState::kCancelled;
  } else if (report.totals.done == 0) {
    s.state = JobState::kFailed;
  } else {
    s.state = JobState::kDone;
  }
  --running_;
  if (jobs_running_) jobs_running_->Add(-1);
  spdlog::info("scrape job {} {}: {} done, {} failed, {} skipped", s.id, JobStateName(s.state),
               s.progress.done, s.progress.failed, s.progress.skipped);
  job->finished_cv.notify_all();
}

void ScrapeJobs::PruneLocked(int64_t now_ms, std::vector<std::thread>* reaped) {
  std::vector<std::pair<int64_t, std::string>> finished;  // (finished_at, id)
  for (const auto& [id, job] : jobs_) {
    if (Finished(job->snapshot.state)) finished.emplace_back(job->snapshot.finished_at_ms, id);
  }
  std::sort(finished.begin(), finished.end());
  size_t excess =
      finished.size() > options_.max_finished ? finished.size() - options_.max_finished : 0;
  for (size_t i = 0; i < finished.size(); ++i) {
    bool expired = now_ms - finished[i].first > options_.keep_finished_ms;
    if (i >= excess && !expired) continue;
    auto it = jobs_.find(finished[i].second);
    // The state is final, so the thread is returning: the caller joins it after unlocking.
    if (it->second->thread.joinable()) reaped->push_back(std::move(it->second->thread));
    jobs_.erase(it);
  }
}

Result<JobSnapshot> ScrapeJobs::Get(const std::string& id) {
  std::vector<std::thread> reaped;
  Result<JobSnapshot> result;
  {
    std::lock_guard lock(mu_);
    PruneLocked(clock_.NowUnixMs(), &reaped);
    auto it = jobs_.find(id);
    if (it == jobs_.end()) {
      result = Error(StatusCode::kNotFound, "no such job");
    } else {
      result = it->second->snapshot;
    }
  }
  for (auto& t : reaped) t.join();
  return result;
}

Status ScrapeJobs::Cancel(const std::string& id) {
  std::lock_guard lock(mu_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return Status(StatusCode::kNotFound, "no such job");
  it->second->cancel = true;
  return Status::Ok();
}

Result<JobSnapshot> ScrapeJobs::Wait(const std::string& id) {
  std::unique_lock lock(mu_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return Error(StatusCode::kNotFound, "no such job");
  std::shared_ptr<Job> job = it->second;
  job->finished_cv.wait(lock, [&] { return Finished(job->snapshot.state); });
  return job->snapshot;
}

}  // namespace jrvs::api
