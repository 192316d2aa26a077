%% @doc What `rebar3 eunit` runs (rebar.config: eunit_tests): every case of
%% kerbsasl_tests inside a throwaway Kerberos realm, never the machine's own.
%%
%% The realm comes from testrealm (tests/tools/testrealm.rs in the kerbsasl
%% tree, built by `make -C c_src test`), run as a port with --serve: it
%% prints the realm's environment (KRB5_CONFIG, KRB5CCNAME, ...), which is
%% set here before any Kerberos call, and it tears the realm down when the
%% port closes, or the VM dies. os:putenv sets it for the Erlang side; libc
%% setenv (a test-only NIF) for MIT's libraries, which os:putenv does not
%% reach since OTP 21. KERBSASL_TESTREALM overrides
%% the path of the testrealm binary.
-module(kerbsasl_suite).

-include_lib("eunit/include/eunit.hrl").

-export([start_realm/0, stop_realm/1]).

realm_test_() ->
    {setup, fun start_realm/0, fun stop_realm/1, {module, kerbsasl_tests}}.

start_realm() ->
    Port = open_port({spawn_executable, testrealm()},
                     [{args, ["--serve"]}, {line, 4096}, binary, use_stdio, exit_status]),
    Env = read_env(Port, []),
    [begin
         true = os:putenv(Key, Value),
         ok = kerbsasl_test_client:setenv(list_to_binary(Key), list_to_binary(Value))
     end || {Key, Value} <- Env],
    Port.

%% Closing the port closes testrealm's stdin: it stops the KDC and removes
%% the realm's directory.
stop_realm(Port) ->
    catch port_close(Port),
    ok.

read_env(Port, Acc) ->
    receive
        {Port, {data, {eol, <<"ready">>}}} ->
            Acc;
        {Port, {data, {eol, Line}}} ->
            [Key, Value] = binary:split(Line, <<"=">>),
            read_env(Port, [{binary_to_list(Key), binary_to_list(Value)} | Acc]);
        {Port, {exit_status, Status}} ->
            error({testrealm_exited, Status})
    after 60000 ->
            error(testrealm_timeout)
    end.

testrealm() ->
    case os:getenv("KERBSASL_TESTREALM") of
        false ->
            %% rebar3 runs the tests from the application's directory,
            %% erlang/kerbsasl in the kerbsasl tree.
            filename:absname("../../target/debug/examples/testrealm");
        Path ->
            Path
    end.
