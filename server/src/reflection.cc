// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: reflection.cc
// -----------------------------------------------------------------------------
// See reflection.h.

#include "reflection.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>

#include <optional>
#include <set>
#include <string_view>

#include "shmarray/proto/convert.h"

namespace shmarray::server::internal {
namespace {

namespace refl = grpc::reflection::v1alpha;
using google::protobuf::DescriptorPool;
using google::protobuf::FileDescriptor;

// Adds `file` and, first, the imports this stream has not sent yet.
void AddFile(const FileDescriptor* file, std::set<std::string>* sent,
             refl::FileDescriptorResponse* out) {
  if (!sent->insert(file->name()).second) return;
  for (int i = 0; i < file->dependency_count(); ++i) AddFile(file->dependency(i), sent, out);
  google::protobuf::FileDescriptorProto proto;
  file->CopyTo(&proto);
  proto.SerializeToString(out->add_file_descriptor_proto());
}

void SetError(refl::ServerReflectionResponse* resp, grpc::StatusCode code, std::string message) {
  resp->mutable_error_response()->set_error_code(static_cast<int>(code));
  resp->mutable_error_response()->set_error_message(std::move(message));
}

}  // namespace

grpc::Status ReflectionService::ServerReflectionInfo(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<refl::ServerReflectionResponse, refl::ServerReflectionRequest>*
        stream) {
  if (auth_ != nullptr) {
    std::optional<std::string_view> authorization;
    const auto& md = context->client_metadata();
    if (auto it = md.find("authorization"); it != md.end()) {
      authorization = std::string_view(it->second.data(), it->second.size());
    }
    const absl::Status s = auth_->Check(authorization);
    if (!s.ok()) return proto::ToGrpcStatus(s);
  }
  const DescriptorPool* pool = DescriptorPool::generated_pool();
  std::set<std::string> sent;
  refl::ServerReflectionRequest req;
  while (stream->Read(&req)) {
    refl::ServerReflectionResponse resp;
    resp.set_valid_host(req.host());
    *resp.mutable_original_request() = req;
    switch (req.message_request_case()) {
      case refl::ServerReflectionRequest::kListServices:
        for (const std::string& name : services_) {
          resp.mutable_list_services_response()->add_service()->set_name(name);
        }
        break;
      case refl::ServerReflectionRequest::kFileByFilename: {
        const FileDescriptor* file = pool->FindFileByName(req.file_by_filename());
        if (file == nullptr) {
          SetError(&resp, grpc::StatusCode::NOT_FOUND, "file not found: " + req.file_by_filename());
        } else {
          AddFile(file, &sent, resp.mutable_file_descriptor_response());
        }
        break;
      }
      case refl::ServerReflectionRequest::kFileContainingSymbol: {
        const FileDescriptor* file = pool->FindFileContainingSymbol(req.file_containing_symbol());
        if (file == nullptr) {
          SetError(&resp, grpc::StatusCode::NOT_FOUND,
                   "symbol not found: " + req.file_containing_symbol());
        } else {
          AddFile(file, &sent, resp.mutable_file_descriptor_response());
        }
        break;
      }
      case refl::ServerReflectionRequest::kFileContainingExtension: {
        const refl::ExtensionRequest& ext = req.file_containing_extension();
        const auto* type = pool->FindMessageTypeByName(ext.containing_type());
        const auto* field =
            type == nullptr ? nullptr : pool->FindExtensionByNumber(type, ext.extension_number());
        if (field == nullptr) {
          SetError(&resp, grpc::StatusCode::NOT_FOUND,
                   "extension not found: " + ext.containing_type() + " " +
                       std::to_string(ext.extension_number()));
        } else {
          AddFile(field->file(), &sent, resp.mutable_file_descriptor_response());
        }
        break;
      }
      case refl::ServerReflectionRequest::kAllExtensionNumbersOfType: {
        const auto* type = pool->FindMessageTypeByName(req.all_extension_numbers_of_type());
        if (type == nullptr) {
          SetError(&resp, grpc::StatusCode::NOT_FOUND,
                   "type not found: " + req.all_extension_numbers_of_type());
        } else {
          std::vector<const google::protobuf::FieldDescriptor*> extensions;
          pool->FindAllExtensions(type, &extensions);
          auto* out = resp.mutable_all_extension_numbers_response();
          out->set_base_type_name(type->full_name());
          for (const auto* f : extensions) out->add_extension_number(f->number());
        }
        break;
      }
      case refl::ServerReflectionRequest::MESSAGE_REQUEST_NOT_SET:
        SetError(&resp, grpc::StatusCode::INVALID_ARGUMENT, "empty reflection request");
        break;
    }
    if (!stream->Write(resp)) break;
  }
  return grpc::Status::OK;
}

}  // namespace shmarray::server::internal
