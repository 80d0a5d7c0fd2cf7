# dragoman in a container: a static binary on an empty image, run as a
# non-root user, its data dir a volume. See docs/deploy.md.
#
#   docker build --build-arg VERSION=$(git describe --tags --always) \
#                --build-arg COMMIT=$(git rev-parse HEAD) -t dragoman .
#   docker run -d --name dragoman -p 8080:8080 -v dragoman-data:/data dragoman
#   docker exec dragoman /dragoman keys create --data /data --name alice

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
# /out/rootfs/data is copied as an entry of /out/rootfs, not made as a
# destination, so its own 0700 mode comes with it; --chown gives it to the user.
RUN VERSION=$VERSION COMMIT=$COMMIT deploy/build-static.sh /out/dragoman \
 && mkdir -p /out/rootfs/data && chmod 0700 /out/rootfs/data

FROM scratch
# Root certificates, for an --upstream or --mirror reached over https.
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/dragoman /dragoman
# The data dir belongs to the user the gateway runs as, and only to it.
COPY --from=build --chown=65532:65532 /out/rootfs/ /
USER 65532:65532
VOLUME /data
EXPOSE 8080
ENTRYPOINT ["/dragoman"]
CMD ["serve", "--listen", "0.0.0.0:8080", "--data", "/data"]
