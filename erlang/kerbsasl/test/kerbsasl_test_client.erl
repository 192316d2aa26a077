%% @doc Test only: a SASL GSSAPI and HTTP Negotiate client
%% (c-tests/common/gss_test_client.c over MIT GSSAPI) that produces real
%% initiator tokens from the ccache in KRB5CCNAME. Built by `make -C c_src
%% test` next to this module's beam, never into priv/.
-module(kerbsasl_test_client).

-export([new/3, new_spnego/2, initial/1, respond/2, wrap/2, malloc_trim/0, lock_file/2, setenv/2]).

-on_load(load_nif/0).

-opaque client() :: reference().
-export_type([client/0]).

%% @doc A client for service principal `Target'; `Mutual' asks for an
%% AP-REP; `Authzid' (<<>> for none) goes in the security-layer reply.
-spec new(binary(), boolean(), binary()) -> {ok, client()} | {error, binary()}.
new(_Target, _Mutual, _Authzid) -> erlang:nif_error(not_loaded).

%% @doc A client whose tokens are SPNEGO around Kerberos V5, as HTTP
%% Negotiate clients (curl, browsers) send them; `respond/2' takes the
%% server's mutual-authentication token. For HTTP only: no security layer.
-spec new_spnego(binary(), boolean()) -> {ok, client()} | {error, binary()}.
new_spnego(_Target, _Mutual) -> erlang:nif_error(not_loaded).

%% @doc The initial context token (fetches a service ticket if needed).
-spec initial(client()) -> {ok, binary()} | {error, binary()}.
initial(_Client) -> erlang:nif_error(not_loaded).

%% @doc The answer to a server challenge: empty after the AP-REP (or the
%% SPNEGO answer holding it), "no security layer" plus the authzid after
%% the wrapped offer. An error if the server's token does not verify.
-spec respond(client(), binary()) -> {ok, binary()} | {error, binary()}.
respond(_Client, _Challenge) -> erlang:nif_error(not_loaded).

%% @doc Wraps arbitrary bytes, to send malformed security-layer replies.
-spec wrap(client(), binary()) -> {ok, binary()} | {error, binary()}.
wrap(_Client, _Bytes) -> erlang:nif_error(not_loaded).

%% @doc Asks glibc to return free memory to the OS (memory test).
-spec malloc_trim() -> ok.
malloc_trim() -> erlang:nif_error(not_loaded).

%% @doc Takes an exclusive lock on a file (as MIT does on the replay cache
%% for every accept) and releases it after `Millis' from a native thread.
-spec lock_file(binary(), 1..60000) -> ok | {error, binary()}.
lock_file(_Path, _Millis) -> erlang:nif_error(not_loaded).

%% @doc libc's setenv, for the realm fixture: os:putenv does not reach the
%% C libraries (OTP keeps its own copy of the environment).
-spec setenv(binary(), binary()) -> ok | {error, binary()}.
setenv(_Name, _Value) -> erlang:nif_error(not_loaded).

load_nif() ->
    Dir = filename:dirname(code:which(?MODULE)),
    erlang:load_nif(filename:join(Dir, "kerbsasl_test_client_nif"), 0).
