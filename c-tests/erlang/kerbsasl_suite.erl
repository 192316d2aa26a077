%% @doc Runs the EUnit suite for c-tests/erlang/run and always halts the VM:
%% status 0 when every test passed, 3 when some failed (counted), 2 when
%% the suite itself crashed. As an EUnit listener it also keeps "Passed
%% Failed" in a file after every test, so that the runner can still count
%% (up to where the listener got) if the VM dies mid-suite.
-module(kerbsasl_suite).

-behaviour(eunit_listener).

-export([main/1]).
-export([start/1, init/1, handle_begin/3, handle_end/3, handle_cancel/3, terminate/2]).

%% erl -run kerbsasl_suite main COUNTS_FILE
main([CountsFile]) ->
    Status = try run(CountsFile)
             catch Class:Reason:Stack ->
                     io:format("kerbsasl_suite crashed: ~p:~p~n~p~n", [Class, Reason, Stack]),
                     2
             end,
    halt(Status).

run(CountsFile) ->
    Options = [verbose, {report, {?MODULE, [{counts_file, CountsFile}]}}],
    case eunit:test(kerbsasl_tests, Options) of
        ok -> 0;
        _ -> 3
    end.

%% ---- eunit_listener ----------------------------------------------------

start(Options) ->
    eunit_listener:start(?MODULE, Options).

init(Options) ->
    State = #{file => proplists:get_value(counts_file, Options), pass => 0, fail => 0},
    write(State).

handle_begin(_Kind, _Data, State) ->
    State.

handle_end(test, Data, State) ->
    case proplists:get_value(status, Data) of
        ok -> count(pass, State);
        _ -> count(fail, State)
    end;
handle_end(group, _Data, State) ->
    State.

%% A cancelled test or group (timeout, failed setup) is a failure.
handle_cancel(_Kind, _Data, State) ->
    count(fail, State).

terminate(_Result, State) ->
    write(State),
    ok.

count(Key, State) ->
    write(maps:update_with(Key, fun(N) -> N + 1 end, State)).

write(#{file := File, pass := Pass, fail := Fail} = State) ->
    ok = file:write_file(File, io_lib:format("~b ~b~n", [Pass, Fail])),
    State.
