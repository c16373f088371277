// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: reflection.h
// -----------------------------------------------------------------------------
// gRPC server reflection (grpc.reflection.v1alpha.ServerReflection, what
// grpcurl and grpc_cli ask), served from protobuf's generated descriptor pool.
// Unlike gRPC's reflection plugin it checks the bearer token: on a daemon
// started with --token-file, a stream without the token ends with
// UNAUTHENTICATED before anything is described.
//
// Answers list_services (the names given to the constructor),
// file_by_filename, file_containing_symbol, file_containing_extension and
// all_extension_numbers_of_type; each file comes with the files it imports
// that this stream has not sent yet. Unknown names get an error_response
// NOT_FOUND, an empty request INVALID_ARGUMENT; the stream goes on.
//
// Thread-safety: handlers are thread-safe.

#ifndef SHMARRAY_SERVER_SRC_REFLECTION_H_
#define SHMARRAY_SERVER_SRC_REFLECTION_H_

#include <string>
#include <vector>

#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "shmarray/server/auth.h"

namespace shmarray::server::internal {

class ReflectionService final : public grpc::reflection::v1alpha::ServerReflection::Service {
 public:
  // `services`: the full names list_services reports. `auth` may be null (no
  // token required); it must outlive the service.
  ReflectionService(std::vector<std::string> services, const TokenAuthenticator* auth)
      : services_(std::move(services)), auth_(auth) {}

  grpc::Status ServerReflectionInfo(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<grpc::reflection::v1alpha::ServerReflectionResponse,
                               grpc::reflection::v1alpha::ServerReflectionRequest>* stream)
      override;

 private:
  const std::vector<std::string> services_;
  const TokenAuthenticator* const auth_;
};

}  // namespace shmarray::server::internal

#endif  // SHMARRAY_SERVER_SRC_REFLECTION_H_
