%% @doc EUnit cases for the kerbsasl NIF, run by kerbsasl_suite inside
%% a throwaway realm (tests/tools/testrealm.rs): real tokens from MIT GSSAPI
%% via kerbsasl_test_client, a real KDC, a real keytab.
-module(kerbsasl_tests).

-include_lib("eunit/include/eunit.hrl").

-define(OTHER_SERVICE, <<"other/broker.kerbsasl.test@KERBSASL.TEST">>).

%% ---- fixtures -----------------------------------------------------------

env(Name) ->
    case os:getenv(Name) of
        false -> error({not_in_a_test_realm, Name});
        Value -> list_to_binary(Value)
    end.

service() -> env("KERBSASL_TEST_SERVICE").
realm() -> env("KERBSASL_TEST_REALM").
alice() -> <<"alice@", (realm())/binary>>.
keytab() -> filename:join(env("KERBSASL_TEST_DIR"), <<"mqtt.keytab">>).

server() -> server(#{}).

server(Extra) ->
    {ok, Server} = kerbsasl:server_new(
                     maps:merge(#{principal => service(), <<"keytab">> => keytab()}, Extra)),
    Server.

client() -> client(#{}).

client(Options) ->
    Target = maps:get(target, Options, service()),
    Mutual = maps:get(mutual, Options, true),
    Authzid = maps:get(authzid, Options, <<>>),
    {ok, Client} = kerbsasl_test_client:new(Target, Mutual, Authzid),
    Client.

initial_token(Client) ->
    {ok, Token} = kerbsasl_test_client:initial(Client),
    Token.

%% A whole exchange: {Result, Session}, Session undefined if start failed.
handshake(Server, Client) ->
    case kerbsasl:server_start(Server, initial_token(Client)) of
        {continue, Challenge, Session} -> {answer(Client, Session, Challenge), Session};
        {ok, <<>>, Session} -> {ok, Session};
        Error -> {Error, undefined}
    end.

answer(Client, Session, Challenge) ->
    {ok, Reply} = kerbsasl_test_client:respond(Client, Challenge),
    case kerbsasl:server_step(Session, Reply) of
        {continue, Next} -> answer(Client, Session, Next);
        {ok, <<>>} -> ok;
        Error -> Error
    end.

%% Asserts {error, {Code, Message}} with Message a binary containing Part.
assert_error(Code, Part, Result) ->
    ?assertMatch({error, {Code, Message}} when is_binary(Message), Result),
    {error, {Code, Message}} = Result,
    ?assertNotEqual(nomatch, string:find(string:lowercase(Message), string:lowercase(Part)),
                    Message).

%% ---- handshakes -----------------------------------------------------------

mutual_handshake_without_authzid_test() ->
    {ok, Session} = handshake(server(), client()),
    ?assertEqual(#{principal => alice(), username => alice(), realm => realm(),
                   authzid => undefined},
                 kerbsasl:identity(Session)),
    ?assertEqual(ok, kerbsasl:dispose(Session)).

%% Without mutual authentication there is no AP-REP: start answers with
%% the wrapped offer and one step finishes.
handshake_without_mutual_auth_test() ->
    Client = client(#{mutual => false}),
    {continue, Offer, Session} = kerbsasl:server_start(server(), initial_token(Client)),
    {ok, Reply} = kerbsasl_test_client:respond(Client, Offer),
    ?assertEqual({ok, <<>>}, kerbsasl:server_step(Session, Reply)),
    ?assertMatch(#{principal := _, authzid := undefined}, kerbsasl:identity(Session)).

handshake_with_own_principal_as_authzid_test() ->
    {ok, Session} = handshake(server(), client(#{authzid => alice()})),
    ?assertMatch(#{username := User, authzid := User}, kerbsasl:identity(Session)),
    ?assertMatch(#{username := <<"alice@", _/binary>>}, kerbsasl:identity(Session)).

authzid_of_someone_else_is_denied_test() ->
    {Result, _} = handshake(server(), client(#{authzid => <<"bob">>})),
    assert_error(authz_denied, <<"bob">>, Result).

authzid_any_leaves_authorisation_to_the_broker_test() ->
    Server = server(#{authzid => any}),
    {ok, Session} = handshake(Server, client(#{authzid => <<"bob">>})),
    Alice = alice(),
    ?assertMatch(#{username := Alice, authzid := <<"bob">>}, kerbsasl:identity(Session)).

%% Options as atoms, strings and booleans, as a broker's config gives them.
option_value_types_test() ->
    Options = #{principal => binary_to_list(service()), keytab => binary_to_list(keytab()),
                strip_realm => true, authzid => match},
    {ok, Server} = kerbsasl:server_new(Options),
    {ok, Session} = handshake(Server, client()),
    ?assertMatch(#{username := <<"alice">>}, kerbsasl:identity(Session)).

%% principal "*" and KRB5_KTNAME: the documented defaults.
empty_option_map_uses_defaults_test() ->
    {ok, Server} = kerbsasl:server_new(#{}),
    ?assertMatch({ok, _}, handshake(Server, client())).

identity_before_ok_is_bad_state_test() ->
    {continue, _, Session} = kerbsasl:server_start(server(), initial_token(client())),
    assert_error(bad_state, <<"not finished">>, kerbsasl:identity(Session)).

version_test() ->
    ?assertMatch(<<"1.", _/binary>>, kerbsasl:version()).

%% ---- failures ---------------------------------------------------------------

garbage_token_test() ->
    assert_error(bad_token, <<"not a GSSAPI token">>,
                 kerbsasl:server_start(server(), <<"garbage, not a token">>)).

empty_token_test() ->
    assert_error(bad_token, <<"empty">>, kerbsasl:server_start(server(), <<>>)).

truncated_token_test() ->
    Token = initial_token(client()),
    Truncated = binary:part(Token, 0, byte_size(Token) div 2),
    assert_error(bad_token, <<"truncated">>, kerbsasl:server_start(server(), Truncated)).

%% other/HOST exists in the realm but not in the keytab.
ticket_for_another_service_test() ->
    Token = initial_token(client(#{target => ?OTHER_SERVICE})),
    assert_error(auth_failed, <<"other/">>, kerbsasl:server_start(server(), Token)).

ticket_for_another_service_with_any_principal_test() ->
    Token = initial_token(client(#{target => ?OTHER_SERVICE})),
    {ok, Server} = kerbsasl:server_new(#{principal => <<"*">>}),
    assert_error(auth_failed, <<"other/">>, kerbsasl:server_start(Server, Token)).

replayed_token_test() ->
    Server = server(),
    Token = initial_token(client()),
    ?assertMatch({continue, _, _}, kerbsasl:server_start(Server, Token)),
    assert_error(auth_failed, <<"replay">>, kerbsasl:server_start(Server, Token)).

non_empty_reply_to_ap_rep_test() ->
    {continue, _ApRep, Session} = kerbsasl:server_start(server(), initial_token(client())),
    assert_error(bad_token, <<"requires an empty response">>,
                 kerbsasl:server_step(Session, <<"not empty">>)),
    assert_error(bad_state, <<"already failed">>, kerbsasl:server_step(Session, <<>>)),
    assert_error(bad_state, <<"no identity">>, kerbsasl:identity(Session)).

layer_not_offered_test() ->
    Client = client(#{mutual => false}),
    {continue, _Offer, Session} = kerbsasl:server_start(server(), initial_token(Client)),
    {ok, Integrity} = kerbsasl_test_client:wrap(Client, <<2, 0, 0, 0>>),
    assert_error(bad_token, <<"integrity">>, kerbsasl:server_step(Session, Integrity)).

step_after_ok_test() ->
    {ok, Session} = handshake(server(), client()),
    assert_error(bad_state, <<"already succeeded">>, kerbsasl:server_step(Session, <<>>)),
    %% The identity survives a misplaced step.
    ?assertMatch(#{principal := _}, kerbsasl:identity(Session)).

dispose_is_idempotent_and_closes_test() ->
    {ok, Session} = handshake(server(), client()),
    ?assertEqual(ok, kerbsasl:dispose(Session)),
    ?assertEqual(ok, kerbsasl:dispose(Session)),
    ?assertEqual({error, closed}, kerbsasl:server_step(Session, <<>>)),
    ?assertEqual({error, closed}, kerbsasl:identity(Session)).

dispose_mid_handshake_test() ->
    {continue, _, Session} = kerbsasl:server_start(server(), initial_token(client())),
    ?assertEqual(ok, kerbsasl:dispose(Session)),
    ?assertEqual({error, closed}, kerbsasl:server_step(Session, <<>>)).

bad_option_maps_test_() ->
    Keytab = keytab(),
    Cases = [{#{bogus => <<"x">>}, <<"bogus">>},
             {#{strip_realm => maybe}, <<"strip_realm">>},
             {#{keytab => <<"/nonexistent/kerbsasl.keytab">>}, <<"/nonexistent/kerbsasl.keytab">>},
             {#{principal => <<"mqtt/nohost.kerbsasl.test">>, keytab => Keytab}, <<"nohost">>},
             {#{principal => 42}, <<"42">>},
             {#{principal => {a, tuple}}, <<"principal">>},
             {#{42 => <<"x">>}, <<"42">>},
             {#{principal => [16#110000]}, <<"principal">>},
             {#{principal => <<"mqtt/a", 0, "b">>}, <<"principal contains a nul">>},
             {#{<<"keytab", 0>> => Keytab}, <<"nul">>},
             {#{principal => <<"a/b">>, <<"principal">> => <<"a/b">>}, <<"more than once">>},
             {#{strip_realm => true, auth_to_local => true}, <<"only one">>},
             {#{authzid => sometimes}, <<"authzid">>},
             {#{replay_cache => <<>>}, <<"replay_cache">>}],
    [{iolist_to_binary(io_lib:print(Options, 1, 1000, -1)),
      ?_test(assert_error(config, Part, kerbsasl:server_new(Options)))}
     || {Options, Part} <- Cases].

%% Wrong Erlang types raise badarg (documented) and never crash the VM.
wrong_argument_types_test() ->
    Server = server(),
    {continue, _, Session} = kerbsasl:server_start(Server, initial_token(client())),
    ?assertError(badarg, kerbsasl:server_new([{principal, service()}])),
    ?assertError(badarg, kerbsasl:server_new(<<"principal">>)),
    ?assertError(badarg, kerbsasl:server_start(Server, "a string")),
    ?assertError(badarg, kerbsasl:server_start(Server, [<<"io">>, <<"list">>])),
    ?assertError(badarg, kerbsasl:server_start(Server, 42)),
    ?assertError(badarg, kerbsasl:server_start(Session, <<"token">>)),
    ?assertError(badarg, kerbsasl:server_start(make_ref(), <<"token">>)),
    ?assertError(badarg, kerbsasl:server_start(undefined, <<"token">>)),
    ?assertError(badarg, kerbsasl:server_step(Session, an_atom)),
    ?assertError(badarg, kerbsasl:server_step(Server, <<>>)),
    ?assertError(badarg, kerbsasl:server_step(self(), <<>>)),
    ?assertError(badarg, kerbsasl:identity(Server)),
    ?assertError(badarg, kerbsasl:identity(#{})),
    ?assertError(badarg, kerbsasl:dispose(Server)),
    ?assertError(badarg, kerbsasl:dispose(<<"session">>)),
    %% The session is unharmed by all that.
    assert_error(bad_token, <<"empty response">>, kerbsasl:server_step(Session, <<"x">>)).

%% A sub-binary (offset into a larger binary) is a binary too.
sub_binary_token_test() ->
    Token = initial_token(client()),
    <<_:3/binary, Sub/binary>> = <<"pad", Token/binary>>,
    ?assertMatch({continue, _, _}, kerbsasl:server_start(server(), Sub)).

%% ---- HTTP Negotiate -----------------------------------------------------------

%% An NTLM NEGOTIATE_MESSAGE, as Windows sends without a Kerberos ticket.
-define(NTLM_HEADER, <<"Negotiate TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAKAGFKAAAADw==">>).

%% A client sending SPNEGO, as curl and browsers do.
spnego_client() ->
    {ok, Client} = kerbsasl_test_client:new_spnego(service(), true),
    Client.

%% The Authorization header value for the client's initial token.
authorization(Client) ->
    <<"Negotiate ", (base64:encode(initial_token(Client)))/binary>>.

%% An authenticated session from a fresh SPNEGO header.
http_session(Server) ->
    {ok, _, Session} = kerbsasl:http_authenticate(Server, authorization(spnego_client())),
    Session.

%% Feeds the server's WWW-Authenticate value to the client, which checks
%% the server's mutual-authentication token.
verify_mutual(Client, <<"Negotiate ", Token/binary>>) ->
    ?assertMatch({ok, _}, kerbsasl_test_client:respond(Client, base64:decode(Token))).

http_spnego_authenticates_with_mutual_token_test() ->
    Client = spnego_client(),
    all_sessions_freed(),
    {ok, Www, Session} = kerbsasl:http_authenticate(server(), authorization(Client)),
    verify_mutual(Client, Www),
    ?assertEqual(#{principal => alice(), username => alice(), realm => realm(),
                   authzid => undefined},
                 kerbsasl:identity(Session)),
    ?assertEqual(1, kerbsasl:live_sessions()),
    ?assertEqual(ok, kerbsasl:dispose(Session)),
    ?assertEqual(0, kerbsasl:live_sessions()).

%% A raw Kerberos V5 token (some clients send one): the answer is the
%% bare AP-REP.
http_raw_kerberos_token_test() ->
    Client = client(),
    {ok, Www, Session} = kerbsasl:http_authenticate(server(), authorization(Client)),
    verify_mutual(Client, Www),
    ?assertMatch(#{principal := <<"alice@", _/binary>>}, kerbsasl:identity(Session)).

%% Without mutual authentication there is no token to add.
http_without_mutual_auth_has_no_token_test() ->
    Client = client(#{mutual => false}),
    ?assertMatch({ok, undefined, _}, kerbsasl:http_authenticate(server(), authorization(Client))).

http_strip_realm_test() ->
    Session = http_session(server(#{strip_realm => true})),
    ?assertEqual(#{principal => alice(), username => <<"alice">>, realm => realm(),
                   authzid => undefined},
                 kerbsasl:identity(Session)).

%% strip_realm shortens only names of the local realms.
http_strip_realm_outside_local_realms_test() ->
    Session = http_session(server(#{strip_realm => true, local_realms => <<"PARTNER.TEST">>})),
    Alice = alice(),
    ?assertMatch(#{username := Alice}, kerbsasl:identity(Session)).

http_allowed_realms_test() ->
    Server = server(#{allowed_realms => <<"PARTNER.TEST">>}),
    assert_error(authz_denied, <<"not in allowed_realms">>,
                 kerbsasl:http_authenticate(Server, authorization(spnego_client()))).

%% No Negotiate credentials: the 401 challenge, no session.
http_challenge_test_() ->
    Server = server(),
    Headers = [undefined, <<>>, <<"Basic YWxpY2U6c2VjcmV0">>, <<"Negotiate">>,
               <<" \tnegotiate \t">>, <<"Bearer abc">>],
    [{iolist_to_binary(io_lib:format("~p", [Header])),
      ?_assertEqual({continue, <<"Negotiate">>}, kerbsasl:http_authenticate(Server, Header))}
     || Header <- Headers].

http_bad_base64_test() ->
    assert_error(bad_token, <<"not valid base64">>,
                 kerbsasl:http_authenticate(server(), <<"Negotiate YIIB*AYGKwYBBQUC">>)).

http_ntlm_test() ->
    Result = kerbsasl:http_authenticate(server(), ?NTLM_HEADER),
    assert_error(bad_token, <<"NTLM is not supported">>, Result),
    assert_error(bad_token, <<"intranet">>, Result).

http_garbage_token_test() ->
    assert_error(bad_token, <<>>, kerbsasl:http_authenticate(server(), <<"Negotiate Zm9vYmFy">>)).

http_oversized_header_test() ->
    Header = <<"Negotiate ", (binary:copy(<<"A">>, 100000))/binary>>,
    assert_error(bad_token, <<"at most 98304">>, kerbsasl:http_authenticate(server(), Header)).

http_replayed_header_test() ->
    Server = server(),
    Header = authorization(spnego_client()),
    ?assertMatch({ok, _, _}, kerbsasl:http_authenticate(Server, Header)),
    assert_error(auth_failed, <<"replay">>, kerbsasl:http_authenticate(Server, Header)).

http_ticket_for_another_service_test() ->
    {ok, Client} = kerbsasl_test_client:new_spnego(?OTHER_SERVICE, true),
    assert_error(auth_failed, <<"other/">>,
                 kerbsasl:http_authenticate(server(), authorization(Client))).

%% A sub-binary (offset into a larger binary) is a binary too.
http_sub_binary_header_test() ->
    Header = authorization(spnego_client()),
    <<_:3/binary, Sub/binary>> = <<"pad", Header/binary>>,
    ?assertMatch({ok, _, _}, kerbsasl:http_authenticate(server(), Sub)).

%% The session is authenticated already: no steps, and dispose works as
%% for SASL sessions.
http_session_refuses_steps_and_closes_test() ->
    Session = http_session(server()),
    assert_error(bad_state, <<>>, kerbsasl:server_step(Session, <<>>)),
    ?assertMatch(#{principal := _}, kerbsasl:identity(Session)),
    ?assertEqual(ok, kerbsasl:dispose(Session)),
    ?assertEqual(ok, kerbsasl:dispose(Session)),
    ?assertEqual({error, closed}, kerbsasl:identity(Session)),
    ?assertEqual({error, closed}, kerbsasl:server_step(Session, <<>>)).

http_wrong_argument_types_test() ->
    Server = server(),
    Session = http_session(Server),
    ?assertError(badarg, kerbsasl:http_authenticate(Server, "Negotiate YIIC")),
    ?assertError(badarg, kerbsasl:http_authenticate(Server, [<<"Negotiate ">>, <<"YIIC">>])),
    ?assertError(badarg, kerbsasl:http_authenticate(Server, 42)),
    ?assertError(badarg, kerbsasl:http_authenticate(Server, null)),
    ?assertError(badarg, kerbsasl:http_authenticate(Server, {<<"Negotiate">>})),
    ?assertError(badarg, kerbsasl:http_authenticate(Session, undefined)),
    ?assertError(badarg, kerbsasl:http_authenticate(make_ref(), undefined)),
    ?assertError(badarg, kerbsasl:http_authenticate(undefined, undefined)).

%% Sessions dropped without dispose are freed by their destructors.
dropped_http_sessions_are_freed_test() ->
    Server = server(),
    all_sessions_freed(),
    Parent = self(),
    Pid = spawn_link(fun() ->
                             Sessions = [http_session(Server) || _ <- lists:seq(1, 100)],
                             Parent ! {held, self(), kerbsasl:live_sessions()},
                             receive drop -> length(Sessions) end
                     end),
    receive {held, Pid, Held} -> ?assertEqual(100, Held) after 60000 -> error(timeout) end,
    Pid ! drop,
    all_sessions_freed().

%% 400 requests from 8 processes on one server.
concurrent_http_test_() ->
    {timeout, 120,
     fun() ->
             Server = server(#{strip_realm => true}),
             Auth = fun() ->
                            Session = http_session(Server),
                            #{username := Username} = kerbsasl:identity(Session),
                            ok = kerbsasl:dispose(Session),
                            Username
                    end,
             Usernames = lists:append(parallel(8, fun(_) -> [Auth() || _ <- lists:seq(1, 50)] end)),
             ?assertEqual(400, length(Usernames)),
             ?assertEqual([<<"alice">>], lists:usort(Usernames))
     end}.

%% ---- concurrency --------------------------------------------------------------

%% 16 processes step one session at once: exactly one step fits, the rest
%% are refused by the state machine; the session mutex keeps the VM alive.
one_session_many_processes_test() ->
    Client = client(),
    {continue, ApRep, Session} = kerbsasl:server_start(server(), initial_token(Client)),
    {ok, Empty} = kerbsasl_test_client:respond(Client, ApRep),
    Results = parallel(16, fun(_) -> kerbsasl:server_step(Session, Empty) end),
    Continues = [R || {continue, _} = R <- Results],
    Refused = [C || {error, {C, _}} <- Results, lists:member(C, [bad_token, bad_state])],
    ?assertEqual({1, 15}, {length(Continues), length(Refused)}).

%% Steps, identity and dispose racing on one session.
one_session_mixed_calls_test() ->
    Client = client(),
    {continue, ApRep, Session} = kerbsasl:server_start(server(), initial_token(Client)),
    {ok, Empty} = kerbsasl_test_client:respond(Client, ApRep),
    Call = fun(I) ->
                   case I rem 3 of
                       0 -> kerbsasl:server_step(Session, Empty);
                       1 -> kerbsasl:identity(Session);
                       2 -> kerbsasl:dispose(Session)
                   end
           end,
    Results = parallel(30, Call),
    Allowed = fun(ok) -> true;
                 ({continue, _}) -> true;
                 ({error, closed}) -> true;
                 ({error, {C, M}}) -> is_binary(M) andalso lists:member(C, [bad_token, bad_state]);
                 (_) -> false
              end,
    ?assertEqual([], [R || R <- Results, not Allowed(R)]),
    ?assertEqual({error, closed}, kerbsasl:identity(Session)).

%% 1,000 handshakes from 8 processes on one server.
concurrent_handshakes_test_() ->
    {timeout, 120,
     fun() ->
             Server = server(),
             Results = parallel(8, fun(_) -> [handshake_identity(Server) || _ <- lists:seq(1, 125)] end),
             Identities = lists:append(Results),
             ?assertEqual(1000, length(Identities)),
             ?assertEqual([alice()], lists:usort(Identities))
     end}.

handshake_identity(Server) ->
    {ok, Session} = handshake(Server, client()),
    #{principal := Principal} = kerbsasl:identity(Session),
    ok = kerbsasl:dispose(Session),
    Principal.

%% Runs Fun(1..N) in N processes released at once; results in order.
parallel(N, Fun) ->
    Parent = self(),
    Go = make_ref(),
    Pids = [spawn_link(fun() ->
                               receive Go -> ok end,
                               Parent ! {self(), Fun(I)}
                       end) || I <- lists:seq(1, N)],
    [Pid ! Go || Pid <- Pids],
    [receive {Pid, Result} -> Result after 60000 -> error(timeout) end || Pid <- Pids].

%% ---- latency (for the scheduling choice) -----------------------------------------

%% 1,000 sequential handshakes, each call timed from Erlang (so dirty
%% scheduling's hand-off is included). Prints p50/p99/max; asserts nothing
%% about speed, only that every handshake worked.
latency_test_() ->
    {timeout, 120,
     fun() ->
             Server = server(),
             _ = [timed_handshake(Server) || _ <- lists:seq(1, 50)], % warm-up
             {Starts, Steps1, Steps2} = lists:unzip3([timed_handshake(Server)
                                                      || _ <- lists:seq(1, 1000)]),
             report("start", Starts),
             report("step 1 (empty -> offer)", Steps1),
             report("step 2 (choice -> ok)", Steps2),
             %% auth_to_local maps the name in the last step: still no I/O?
             Mapping = server(#{auth_to_local => true}),
             {_, _, Mapped} = lists:unzip3([timed_handshake(Mapping) || _ <- lists:seq(1, 1000)]),
             report("step 2, auth_to_local", Mapped),
             report("http_authenticate", [timed_http(Server) || _ <- lists:seq(1, 1000)]),
             {Challenges, _} = lists:unzip([timed(fun() -> kerbsasl:http_authenticate(Server, undefined) end)
                                            || _ <- lists:seq(1, 1000)]),
             report("http, no header", Challenges),
             io:format(user, "~n", [])
     end}.

%% Why start runs on a dirty I/O scheduler: it waits for as long as any
%% process holds the replay cache's lock. One blocked start per normal
%% scheduler would freeze every normal scheduler if start ran on them;
%% here this process must keep running (10 ms ticks) meanwhile.
blocked_start_leaves_schedulers_free_test_() ->
    {timeout, 60,
     fun() ->
             blocked_on_replay_cache("server_start", fun(Server) ->
                 Token = initial_token(client()),
                 fun() -> kerbsasl:server_start(Server, Token) end
             end)
     end}.

%% The same for http_authenticate/2, which runs where server_start/2 does.
blocked_http_authenticate_leaves_schedulers_free_test_() ->
    {timeout, 60,
     fun() ->
             blocked_on_replay_cache("http_authenticate", fun(Server) ->
                 Header = authorization(spnego_client()),
                 fun() -> kerbsasl:http_authenticate(Server, Header) end
             end)
     end}.

%% Prepare(Server) makes a call that succeeds with {continue | ok, ...}
%% and needs the replay cache; one per normal scheduler is made while the
%% cache is locked.
blocked_on_replay_cache(What, Prepare) ->
    Cache = filename:join(env("KERBSASL_TEST_DIR"), <<"blocked.rcache2">>),
    Server = server(#{replay_cache => <<"file2:", Cache/binary>>}),
    First = Prepare(Server),
    ?assertMatch({Tag, _, _} when Tag =:= continue; Tag =:= ok, First()), % creates the file
    Calls = [Prepare(Server) || _ <- lists:seq(1, erlang:system_info(schedulers))],
    ok = kerbsasl_test_client:lock_file(Cache, 500),
    Pids = [spawn_timed(Call) || Call <- Calls],
    MaxGap = max_tick_gap(erlang:monotonic_time(millisecond), 60, 0),
    Results = [receive {Pid, Result} -> Result after 10000 -> timeout end || Pid <- Pids],
    Slowest = lists:max([Ms || {Ms, _} <- Results]),
    io:format(user, "~n    ~b ~s calls blocked on the replay cache lock for up to ~b ms; "
              "longest gap between 10 ms ticks meanwhile: ~b ms~n",
              [length(Calls), What, Slowest, MaxGap]),
    Succeeded = fun({_Ms, Result}) -> lists:member(element(1, Result), [continue, ok]);
                   (timeout) -> false
                end,
    ?assertEqual([], [R || R <- Results, not Succeeded(R)]),
    ?assert(Slowest >= 400),  % the calls really waited for the lock
    ?assert(MaxGap < 200).

spawn_timed(Fun) ->
    Parent = self(),
    spawn_link(fun() ->
                       T0 = erlang:monotonic_time(millisecond),
                       Result = Fun(),
                       Parent ! {self(), {erlang:monotonic_time(millisecond) - T0, Result}}
               end).

max_tick_gap(_Last, 0, Max) -> Max;
max_tick_gap(Last, Ticks, Max) ->
    timer:sleep(10),
    Now = erlang:monotonic_time(millisecond),
    max_tick_gap(Now, Ticks - 1, max(Max, Now - Last - 10)).

timed_handshake(Server) ->
    Client = client(),
    Token = initial_token(Client),
    {T0, {continue, ApRep, Session}} = timed(fun() -> kerbsasl:server_start(Server, Token) end),
    {ok, Empty} = kerbsasl_test_client:respond(Client, ApRep),
    {T1, {continue, Offer}} = timed(fun() -> kerbsasl:server_step(Session, Empty) end),
    {ok, Choice} = kerbsasl_test_client:respond(Client, Offer),
    {T2, {ok, <<>>}} = timed(fun() -> kerbsasl:server_step(Session, Choice) end),
    ok = kerbsasl:dispose(Session),
    {T0, T1, T2}.

timed_http(Server) ->
    Header = authorization(spnego_client()),
    {T, {ok, _, Session}} = timed(fun() -> kerbsasl:http_authenticate(Server, Header) end),
    ok = kerbsasl:dispose(Session),
    T.

timed(Fun) ->
    T0 = erlang:monotonic_time(nanosecond),
    Result = Fun(),
    {(erlang:monotonic_time(nanosecond) - T0) / 1000, Result}.

report(What, Micros) ->
    Sorted = lists:sort(Micros),
    Pick = fun(P) -> lists:nth(max(1, ceil(P * length(Sorted))), Sorted) end,
    io:format(user, "~n    latency ~-24s p50 ~.1f us, p99 ~.1f us, max ~.1f us (n=~b)",
              [What, Pick(0.50), Pick(0.99), lists:last(Sorted), length(Sorted)]).

%% ---- memory ----------------------------------------------------------------------

%% 10,000 sessions (a third mid-handshake, a third authenticated, a third
%% failed) dropped without dispose: their destructors must free them all,
%% and the VM's memory must come back. A first round of 10,000 brings
%% malloc's arenas and the BEAM's carriers to their working size; the
%% second round is measured. Tolerances are explained in README "Memory".
dropped_sessions_are_freed_test_() ->
    {timeout, 300, fun dropped_sessions_are_freed/0}.

dropped_sessions_are_freed() ->
    Server = server(),
    hold_and_drop(Server, 10000),
    {_, Before} = settle(),
    Held = hold_and_drop(Server, 10000),
    {Untrimmed, After} = settle(),
    io:format(user, "~n    memory: ~s~n    memory: ~s~n    memory: ~s~n    memory: ~s~n",
              [describe("before", Before), describe("10,000 held", Held),
               describe("dropped, GC", Untrimmed), describe("malloc_trim", After)]),
    ?assertEqual({10000, 0}, {maps:get(live, Held), maps:get(live, After)}),
    PerSession = (maps:get(rss, Held) - maps:get(rss, Before)) / 10000,
    io:format(user, "    memory: ~b bytes of RSS per held session~n", [round(PerSession)]),
    ?assert(maps:get(erlang, After) - maps:get(erlang, Before) < 256 * 1024),
    %% ASan's quarantine holds freed memory: RSS says nothing there.
    case os:getenv("KERBSASL_TEST_ASAN") of
        false -> ?assert(maps:get(rss, After) - maps:get(rss, Before) < 8 * 1024 * 1024);
        _ -> io:format(user, "    memory: RSS not checked under ASan~n", [])
    end.

%% Four processes each start Count/4 sessions and hold them; measures
%% with all held, then lets the processes exit, dropping every session.
hold_and_drop(Server, Count) ->
    Parent = self(),
    Workers = [spawn(fun() -> hold(Server, Count div 4, Parent) end) || _ <- lists:seq(1, 4)],
    [receive {held, W} -> ok after 120000 -> error(timeout) end || W <- Workers],
    Peak = measure(),
    [W ! drop || W <- Workers],
    Peak.

hold(Server, Count, Parent) ->
    Sessions = [abandoned_session(Server, I) || I <- lists:seq(1, Count)],
    Parent ! {held, self()},
    receive drop -> length(Sessions) end.

abandoned_session(Server, I) ->
    Client = client(),
    {continue, ApRep, Session} = kerbsasl:server_start(Server, initial_token(Client)),
    case I rem 3 of
        0 -> ok;
        1 -> ok = answer(Client, Session, ApRep);
        2 -> {error, _} = kerbsasl:server_step(Session, <<"garbage">>)
    end,
    Session.

%% Waits until the dropped sessions' destructors have run and collects
%% garbage everywhere; measures, then returns malloc's free memory to the
%% OS (glibc keeps it for reuse) and measures again.
settle() ->
    all_sessions_freed(),
    %% Blocks freed by another thread than the one that allocated them go
    %% back to their allocator later: wait for erlang:memory to settle.
    wait_until(fun() -> Total = erlang:memory(total),
                        timer:sleep(100),
                        abs(erlang:memory(total) - Total) < 64 * 1024 end, 50),
    Untrimmed = measure(),
    kerbsasl_test_client:malloc_trim(),
    {Untrimmed, measure()}.

%% Waits until the destructors of all unreachable sessions have run (the
%% count is global: earlier tests leave their garbage behind).
all_sessions_freed() ->
    wait_until(fun() -> [erlang:garbage_collect(P) || P <- processes()],
                        kerbsasl:live_sessions() =:= 0 end, 100).

wait_until(Done, 0) -> ?assert(Done());
wait_until(Done, Tries) ->
    case Done() of
        true -> ok;
        false -> timer:sleep(50), wait_until(Done, Tries - 1)
    end.

measure() ->
    #{live => kerbsasl:live_sessions(), erlang => erlang:memory(total),
      binary => erlang:memory(binary), processes => erlang:memory(processes), rss => rss()}.

describe(What, #{live := Live, erlang := Erlang, binary := Binary, processes := Procs,
                 rss := Rss}) ->
    io_lib:format("~-12s live sessions ~5b, erlang:memory(total) ~.2f MiB (binary ~.2f, "
                  "processes ~.2f), RSS ~.2f MiB",
                  [What, Live, mib(Erlang), mib(Binary), mib(Procs), mib(Rss)]).

mib(Bytes) -> Bytes / (1024 * 1024).

%% Resident set size in bytes, from /proc/self/status.
rss() ->
    {ok, Status} = file:read_file("/proc/self/status"),
    [_, Line | _] = re:split(Status, <<"VmRSS:\\s*">>),
    [Kb | _] = re:split(Line, <<"\\s">>),
    binary_to_integer(Kb) * 1024.
