%% @doc The server side of SASL GSSAPI (Kerberos V5, RFC 4752) for brokers
%% written in Erlang: a NIF over libkerbsasl, usable in place of the server
%% half of kafka4beam/sasl_auth.
%%
%% Per client: `server_start/2' with the client's first token, then
%% `server_step/2' with each reply while the result is `continue' (sending
%% `Out' to the client each time) until `ok'; read `identity/1'; then
%% `dispose/1' (or drop the session: its destructor frees it).
%%
%% HTTP Negotiate (SPNEGO, RFC 4559), per request: `http_authenticate/2'
%% with the request's Authorization header, then `identity/1' and
%% `dispose/1' on the session it returns, with the same server and options.
%%
%% Failures are `{error, {Code, Message}}' with `Code' as below and
%% `Message' a UTF-8 binary saying why. Arguments of the wrong Erlang type
%% (a token that is not a binary, a session that is not one) raise
%% `error:badarg'; they never crash the VM. If the VM cannot allocate a
%% result term, the call raises `error:enomem'.
%%
%% A server may be used by any number of processes at once. A session may
%% be shared too: calls on one session are serialised by its mutex, and the
%% handshake's state machine rejects steps that no longer fit.
-module(kerbsasl).

-export([server_new/1, server_start/2, server_step/2, http_authenticate/2, identity/1,
         dispose/1, live_sessions/0, version/0]).

-on_load(load_nif/0).

-export_type([server/0, session/0, code/0, error/0, identity/0]).

-opaque server() :: reference().
-opaque session() :: reference().
-type code() :: bad_token | auth_failed | authz_denied | config | bad_state
              | invalid_argument | internal.
-type error() :: {error, {code(), Message :: binary()}}.
-type identity() :: #{principal := binary(), username := binary(),
                      realm := binary(), authzid := binary() | undefined}.
-type option_key() :: binary() | atom().
-type option_value() :: binary() | string() | atom() | boolean().

%% @doc Creates a server. Keys are kerbsasl's option names ("principal",
%% "keytab", "strip_realm", "local_realms", "auth_to_local",
%% "allowed_realms", "authzid", "replay_cache") as binaries or atoms;
%% values are binaries, strings, atoms or booleans. Unknown keys, repeated keys (`principal' and
%% `<<"principal">>') and bad values give `{error, {config, Message}}'.
%% Loads the keytab; never contacts the KDC. A non-map raises badarg.
-spec server_new(#{option_key() => option_value()}) -> {ok, server()} | error().
server_new(Options) when is_map(Options) ->
    case to_pairs(maps:to_list(Options), []) of
        {ok, Pairs} -> server_new_nif(Pairs);
        {error, _} = Error -> Error
    end;
server_new(Options) ->
    erlang:error(badarg, [Options]).

%% @doc Starts a handshake with the client's initial token. `Out' is the
%% token to send back (the AP-REP, or the wrapped security-layer offer).
-spec server_start(server(), ClientToken :: binary()) ->
          {continue, Out :: binary(), session()}
        | {ok, Out :: binary(), session()}
        | error().
server_start(_Server, _ClientToken) ->
    erlang:nif_error(not_loaded).

%% @doc Feeds the client's next message (may be empty) to a session. After
%% a failure every later step fails with `bad_state'; after `dispose/1' it
%% returns `{error, closed}'.
-spec server_step(session(), In :: binary()) ->
          {continue, Out :: binary()} | {ok, Out :: binary()}
        | error() | {error, closed}.
server_step(_Session, _In) ->
    erlang:nif_error(not_loaded).

%% @doc One HTTP Negotiate (RFC 4559) round: checks a request's
%% Authorization header value (e.g. `<<"Negotiate YIIC...">>'; `undefined'
%% when the request has none). The client must lead with a Kerberos token,
%% SPNEGO or raw Kerberos V5; there is no second round.
%%
%% <ul>
%% <li>`{ok, WwwAuthenticate, Session}': authenticated; `identity/1' on
%%   `Session' says who (`authzid' is always `undefined'). Add
%%   `WwwAuthenticate' (`<<"Negotiate <base64 token>">>', the mutual
%%   authentication) to the 2xx response as `WWW-Authenticate', unless it
%%   is `undefined'. `server_step/2' on the session is `bad_state'.</li>
%% <li>`{continue, <<"Negotiate">>}': the request carries no Negotiate
%%   credentials (no header, another scheme such as Basic, a bare
%%   "Negotiate"): answer 401 with `WWW-Authenticate: Negotiate'.</li>
%% <li>`{error, {Code, Message}}': a bad or refused token (`bad_token' for
%%   bad base64, NTLM and the like; `auth_failed' for a ticket Kerberos
%%   rejects, a replay included; `authz_denied'; ...): answer 401 with
%%   `WWW-Authenticate: Negotiate' too, and log `Message'.</li>
%% </ul>
%%
%% Runs on a dirty I/O scheduler, like `server_start/2'. An Authorization
%% that is neither a binary nor `undefined' raises badarg.
-spec http_authenticate(server(), Authorization :: binary() | undefined) ->
          {ok, WwwAuthenticate :: binary() | undefined, session()}
        | {continue, WwwAuthenticate :: binary()}
        | error().
http_authenticate(_Server, _Authorization) ->
    erlang:nif_error(not_loaded).

%% @doc Who the client is, once `server_start/2' or `server_step/2' (or
%% `http_authenticate/2') has returned `ok'. `username' is what ACLs
%% should use (the principal after strip_realm/auth_to_local); `authzid' is `undefined' when the client
%% asked for none. Before `ok' (and after a failure) there is no identity:
%% `{error, {bad_state, Message}}', never a map with holes a broker could
%% mistake for an anonymous user.
-spec identity(session()) -> identity() | error() | {error, closed}.
identity(_Session) ->
    erlang:nif_error(not_loaded).

%% @doc Frees the session now. Idempotent; later calls on the session
%% return `{error, closed}'. Optional: an unreachable session is freed by
%% the garbage collector.
-spec dispose(session()) -> ok.
dispose(_Session) ->
    erlang:nif_error(not_loaded).

%% @doc How many sessions are neither disposed nor garbage-collected
%% (diagnostics: a number that only grows means sessions are kept alive).
-spec live_sessions() -> non_neg_integer().
live_sessions() ->
    erlang:nif_error(not_loaded).

%% @doc The version of the loaded libkerbsasl, e.g. `<<"1.0.0">>'.
-spec version() -> binary().
version() ->
    erlang:nif_error(not_loaded).

%% ---- internals -------------------------------------------------------

server_new_nif(_Pairs) ->
    erlang:nif_error(not_loaded).

%% Normalises the option map to [{Key, Value}] binaries for the NIF, so
%% the C side only ever handles binaries.
to_pairs([], Acc) ->
    {ok, lists:reverse(Acc)};
to_pairs([{Key, Value} | Rest], Acc) ->
    case {key_binary(Key), value_binary(Value)} of
        {{ok, K}, {ok, V}} ->
            case has_nul(K) orelse has_nul(V) of
                false -> to_pairs(Rest, [{K, V} | Acc]);
                true -> config_error("option ~tw contains a NUL byte", [Key])
            end;
        {error, _} -> config_error("option key ~tw must be a binary or an atom", [Key]);
        {_, error} -> config_error("option ~tw: value ~tw must be a binary, string, "
                                   "atom or boolean", [Key, Value])
    end.

%% C strings end at a NUL: refuse rather than truncate (the NIF checks
%% again, without the key's name).
has_nul(Binary) ->
    binary:match(Binary, <<0>>) =/= nomatch.

key_binary(Key) when is_binary(Key) -> {ok, Key};
key_binary(Key) when is_atom(Key) -> {ok, atom_to_binary(Key, utf8)};
key_binary(_) -> error.

%% Booleans are atoms, so `true' becomes <<"true">>.
value_binary(Value) when is_binary(Value) -> {ok, Value};
value_binary(Value) when is_atom(Value) -> {ok, atom_to_binary(Value, utf8)};
value_binary(Value) when is_list(Value) ->
    case unicode:characters_to_binary(Value) of
        Binary when is_binary(Binary) -> {ok, Binary};
        _ -> error
    end;
value_binary(_) -> error.

config_error(Format, Args) ->
    {error, {config, unicode:characters_to_binary(io_lib:format(Format, Args))}}.

%% The NIF sits next to this module's beam, or in priv/ when kerbsasl is
%% packaged as an application.
load_nif() ->
    erlang:load_nif(filename:join(nif_dir(), "kerbsasl_nif"), 0).

nif_dir() ->
    case code:priv_dir(kerbsasl) of
        {error, bad_name} -> filename:dirname(code:which(?MODULE));
        Dir -> Dir
    end.
