// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: watch_hub.cc
// -----------------------------------------------------------------------------
// See watch_hub.h.

#include "watch_hub.h"

#include <utility>

#include "clock_internal.h"

namespace shmarray::server::internal {

// --- WatchHub::Watcher ---------------------------------------------------------

bool WatchHub::Watcher::Take(std::deque<v1::WatchEvent>* out) {
  absl::MutexLock lock(&mu_);
  const bool any = !queue_.empty() || dropped_ > 0;
  while (!queue_.empty()) {
    out->push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  if (dropped_ > 0) {
    v1::WatchEvent overflow;
    overflow.set_type(v1::WatchEvent::TYPE_OVERFLOW);
    overflow.set_dropped(dropped_);
    overflow.set_unix_ns(NowNs());
    out->push_back(std::move(overflow));
    dropped_ = 0;
  }
  waiting_ = !any && !closed_;
  return !closed_;
}

void WatchHub::Watcher::ClearNotify() {
  absl::MutexLock lock(&notify_mu_);
  notify_ = nullptr;
}

void WatchHub::Watcher::Notify() {
  absl::MutexLock lock(&notify_mu_);
  if (notify_) notify_();
}

// --- WatchHub -------------------------------------------------------------------

WatchHub::WatchHub(size_t queue_capacity)
    : capacity_(queue_capacity == 0 ? 1 : queue_capacity), notifier_([this] { RunNotifier(); }) {}

WatchHub::~WatchHub() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  notifier_.join();
}

std::shared_ptr<WatchHub::Watcher> WatchHub::Subscribe(std::string prefix,
                                                       std::function<void()> notify) {
  auto w = std::make_shared<Watcher>(std::move(prefix));
  {
    absl::MutexLock lock(&w->notify_mu_);
    w->notify_ = std::move(notify);
  }
  absl::MutexLock lock(&mu_);
  if (shutdown_) {
    absl::MutexLock wl(&w->mu_);
    w->closed_ = true;
  }
  watchers_.insert(w);
  return w;
}

void WatchHub::Unsubscribe(const std::shared_ptr<Watcher>& watcher) {
  absl::MutexLock lock(&mu_);
  watchers_.erase(watcher);
}

void WatchHub::Publish(const v1::WatchEvent& event) {
  absl::MutexLock lock(&mu_);
  for (const std::shared_ptr<Watcher>& w : watchers_) {
    if (event.name().compare(0, w->prefix_.size(), w->prefix_) != 0) continue;
    absl::MutexLock wl(&w->mu_);
    if (w->queue_.size() >= capacity_) {
      ++w->dropped_;
    } else {
      w->queue_.push_back(event);
    }
    NotifyIfWaitingLocked(w);
  }
}

void WatchHub::Shutdown() {
  absl::MutexLock lock(&mu_);
  shutdown_ = true;
  for (const std::shared_ptr<Watcher>& w : watchers_) {
    absl::MutexLock wl(&w->mu_);
    w->closed_ = true;
    NotifyIfWaitingLocked(w);
  }
}

void WatchHub::NotifyIfWaitingLocked(const std::shared_ptr<Watcher>& w) {
  if (!w->waiting_) return;
  w->waiting_ = false;
  due_.push_back(w);
}

void WatchHub::RunNotifier() {
  std::vector<std::shared_ptr<Watcher>> batch;
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(this, &WatchHub::NotifierHasWork));
      if (due_.empty()) return;  // stopping, nothing left to call
      batch.swap(due_);
    }
    // A watcher unsubscribed meanwhile is still alive (shared) and has
    // cleared its notify: Notify does nothing then.
    for (const std::shared_ptr<Watcher>& w : batch) w->Notify();
    batch.clear();
  }
}

}  // namespace shmarray::server::internal
