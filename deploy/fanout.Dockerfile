# The board's fan-out server (docker-compose.yml, service `fanout`): Debian's nginx with Nchan, configured from
# deploy/nchan.conf.template by envsubst at start (only the template's own ${NAME}s; nginx's $variables stay).
FROM debian:bookworm-slim
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libnginx-mod-nchan gettext-base \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /var/lib/nginx/fanout
COPY deploy/nchan.conf.template /etc/nginx/nchan.conf.template
EXPOSE 8095 8096
# Unset, one channel per board (SHARD_SPLIT `* 0;`, SHARD_CHANNELS `$1.0`) in this server's memory (STORE empty);
# `gateway fanout` writes the lines for N shards and a shared Redis (assembly/machine/fanout_server.py). PUBLISH_SECRET (the
# service's BOARD_FANOUT_SECRET) is required: 32 or more letters, digits, '-' or '_' (it is written into nginx's
# configuration, where a '"' or a ';' would change it); PUBLISH_ACCESS unset lets publishers in from this machine
# only. The configuration, which holds the secret, is readable by root only.
CMD ["sh", "-c", ": \"${PUBLISH_SECRET:?set PUBLISH_SECRET to the service's BOARD_FANOUT_SECRET}\"; case \"$PUBLISH_SECRET\" in *[!A-Za-z0-9_-]*) echo \"PUBLISH_SECRET must be letters, digits, - and _ only\" >&2; exit 1;; esac; [ ${#PUBLISH_SECRET} -ge 32 ] || { echo \"PUBLISH_SECRET must be at least 32 characters\" >&2; exit 1; }; : \"${PUBLISH_ACCESS:=allow 127.0.0.1; allow ::1; deny all;}\" \"${SHARD_SPLIT:=* 0;}\" \"${SHARD_CHANNELS:=\\$1.0}\" \"${STORE:=}\"; export PUBLISH_ACCESS SHARD_SPLIT SHARD_CHANNELS STORE; umask 077; envsubst '$RUN_DIR $WORKERS $MAX_CONNECTIONS $MAX_FILES $LISTEN $LISTEN_OPTIONS $PUBLISH_LISTEN $PUBLISH_ACCESS $PUBLISH_SECRET $FALLBACK $STORE $SHARD_SPLIT $SHARD_CHANNELS' < /etc/nginx/nchan.conf.template > /var/lib/nginx/fanout/nginx.conf && exec nginx -e stderr -c /var/lib/nginx/fanout/nginx.conf"]
