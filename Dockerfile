# syntax=docker/dockerfile:1
#
# refundq: one static binary, run as the distroless "nonroot" user.
#   docker build -t refundq:local .
#   docker run --rm refundq:local worker

FROM golang:1.26-bookworm AS build
WORKDIR /src

# Module downloads are cached in their own layer and only redone when go.mod/go.sum change.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download

COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/refundq ./cmd/refundq

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/refundq /refundq
USER nonroot
# serve, sim, worker metrics
EXPOSE 8080 8090 9101
ENTRYPOINT ["/refundq"]
