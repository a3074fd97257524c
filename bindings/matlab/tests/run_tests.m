function [passed, failed] = run_tests(varargin)
% RUN_TESTS  Tests of the hessfree MATLAB/Octave binding.
%
%   run_tests()            runs every test
%   run_tests('canonical') runs the tests whose names contain 'canonical'
%
% Needs hessfree_mex (build_mex) and the +hessfree folder on the path.
% Prints one line per test and ends with "N passed, M failed"; raises
% 'hessfree:tests_failed' if any test failed, so `octave-cli --eval
% run_tests` exits with a non-zero status.
%
% The canonical run (issue 6) prints "CANONICAL <objective> <train error>
% <test error>" (each %.17g); if the environment variable
% HESSFREE_CANONICAL_EXPECTED holds the C program's line, the test also
% checks that the two are identical.

  tests = {
    @test_version
    @test_data_round_trip
    @test_data_curves_and_dims
    @test_train_autoencoder
    @test_step_report
    @test_predict_and_evaluate
    @test_params_and_save_load
    @test_session_save_resume
    @test_config_values
    @test_config_struct_and_keys
    @test_wrong_shapes
    @test_nan_data
    @test_unknown_option
    @test_out_of_range_and_wrong_type
    @test_bad_layer_specs
    @test_freed_objects
    @test_forged_and_wrong_kind_handles
    @test_wrong_commands
    @test_callback_error
    @test_callback_error_without_identifier
    @test_callback_stop
    @test_callback_calls_session
    @test_bad_input_table
    @test_canonical
  };
  filter = '';
  if nargin > 0
    filter = varargin{1};
  end
  global HESSFREE_TEST_ERROR_CASES
  HESSFREE_TEST_ERROR_CASES = 0;
  passed = 0;
  failed = 0;
  for i = 1:numel(tests)
    name = func2str(tests{i});
    if ~isempty(filter) && isempty(strfind(name, filter))
      continue;
    end
    try
      tests{i}();
      passed = passed + 1;
      fprintf('ok   %s\n', name);
    catch err
      failed = failed + 1;
      fprintf('FAIL %s: [%s] %s\n', name, err.identifier, err.message);
      for k = 1:numel(err.stack)
        fprintf('       at %s line %d\n', err.stack(k).name, err.stack(k).line);
      end
    end
  end
  fprintf('bad-input cases checked (error identifier and message): %d\n', HESSFREE_TEST_ERROR_CASES);
  fprintf('%d passed, %d failed\n', passed, failed);
  if failed > 0
    error('hessfree:tests_failed', '%d of %d binding tests failed', failed, passed + failed);
  end
end

% ---------------------------------------------------------------------------
% Helpers
% ---------------------------------------------------------------------------

function check(cond, varargin)
  % Fails the current test unless cond is true.
  if ~(islogical(cond) || isnumeric(cond)) || isempty(cond) || ~all(cond(:))
    if isempty(varargin)
      error('test:check', 'check failed');
    end
    error('test:check', varargin{:});
  end
end

function err = expect_error(fn, id, substring)
  % Calls fn, which must raise an error with identifier id whose message
  % contains substring ('' for any non-empty message). Returns the error.
  global HESSFREE_TEST_ERROR_CASES
  HESSFREE_TEST_ERROR_CASES = HESSFREE_TEST_ERROR_CASES + 1;
  try
    fn();
  catch err
    check(strcmp(err.identifier, id), 'expected error %s, got [%s] %s', id, ...
          err.identifier, err.message);
    check(~isempty(err.message), 'error %s has an empty message', id);
    if nargin > 2 && ~isempty(substring)
      check(~isempty(strfind(err.message, substring)), ...
            'error %s: message "%s" does not contain "%s"', id, err.message, substring);
    end
    return;
  end
  error('test:check', 'expected error %s, but the call succeeded', id);
end

function [train, test] = small_curves(n_train, n_test, seed)
  % CURVES-like train/test sets split from one generated set, built back
  % from the inputs (as the canonical run does).
  all = hessfree.Data.curves(n_train + n_test, seed);
  X = all.inputs();
  train = hessfree.Data(X(:, 1:n_train));
  test = hessfree.Data(X(:, n_train + 1:end));
end

function opts = fast_options(max_iters)
  opts = {'chunk_size', 50, 'threads', 1, 'max_iters', max_iters, 'backend', 'cpu'};
end

function record_report(r)
  % A progress callback that keeps every report (in a global, since
  % anonymous functions cannot accumulate).
  global HESSFREE_TEST_REPORTS
  HESSFREE_TEST_REPORTS{end + 1} = r;
end

function stop_at(session, r, k)
  record_report(r);
  if r.iteration >= k
    session.stop();
  end
end

% ---------------------------------------------------------------------------
% Tests
% ---------------------------------------------------------------------------

function test_version()
  v = hessfree_mex('version');
  check(ischar(v) && ~isempty(regexp(v, '^\d+\.\d+\.\d+', 'once')), 'version "%s"', v);
  check(strcmp(hessfree_mex('status_str', 5), 'HF_ERR_NON_FINITE'));
  help_text = hessfree_mex('help');
  check(~isempty(strfind(help_text, 'session_run')));
end

function test_data_round_trip()
  X = reshape(0:11, 3, 4) / 11;   % 3 inputs, 4 examples (double)
  d = hessfree.Data(X);
  [n, din, dout] = d.dims();
  check(n == 4 && din == 3 && dout == 3, 'dims %d %d %d', n, din, dout);
  back = d.inputs();
  check(isa(back, 'single') && isequal(size(back), [3 4]));
  check(isequal(back, single(X)), 'inputs come back unchanged, in the same layout');
  check(isequal(d.targets(), single(X)), 'an autoencoder set has targets = inputs');

  Y = single([1 0 1 0; 0 1 0 1]);
  s = hessfree.Data(single(X), Y);   % single + single
  [n, din, dout] = s.dims();
  check(n == 4 && din == 3 && dout == 2);
  check(isequal(s.targets(), Y));
  m = hessfree.Data(X, Y);           % double + single mixed
  check(isequal(m.targets(), Y) && isequal(m.inputs(), single(X)));
end

function test_data_curves_and_dims()
  a = hessfree.Data.curves(20, 4);
  b = hessfree.Data.curves(20, 4);
  [n, din] = a.dims();
  check(n == 20 && din == 784);
  Xa = a.inputs();
  check(isequal(Xa, b.inputs()), 'same (n, seed), same data');
  check(all(Xa(:) >= 0 & Xa(:) <= 1), 'pixels in [0, 1]');
end

function test_train_autoencoder()
  global HESSFREE_TEST_REPORTS
  HESSFREE_TEST_REPORTS = {};
  [train, test] = small_curves(150, 50, 3);
  net = hessfree.Net.autoencoder([784 16 4], 'logistic', 5);
  [~, err0] = net.evaluate(train);
  opts = fast_options(6);
  s = hessfree.Session(net, train, test, opts{:});
  summary = s.run(@record_report);
  check(summary.iterations == 6, 'iterations %d', summary.iterations);
  check(strcmp(summary.termination, 'max iterations') || summary.termination_code == 0, ...
        'termination "%s"', summary.termination);
  check(numel(HESSFREE_TEST_REPORTS) == 6, 'one report per iteration');
  for k = 1:6
    r = HESSFREE_TEST_REPORTS{k};
    check(r.iteration == k && isfinite(r.objective) && isfinite(r.test_error));
  end
  check(summary.final_train_error < 0.8 * err0, 'error falls: %g -> %g', err0, ...
        summary.final_train_error);
  check(isfinite(summary.final_test_error) && summary.final_test_error < err0);
  % The trained parameters, read two ways, agree, and differ from the start.
  trained = s.net();
  check(isequal(trained.params(), s.params()));
  check(~isequal(trained.params(), net.params()), 'the session trains a copy');
  [~, err1] = trained.evaluate(train);
  check(abs(err1 - summary.final_train_error) <= 1e-6 * err0, 'final error %g vs %g', ...
        err1, summary.final_train_error);
  check(s.iteration() == 6 && s.lambda() > 0);
  check(~isempty(strfind(s.backend(), 'cpu')));
  check(ischar(s.summary_text()) && ischar(s.summary_text(true)) && ischar(s.report_text()));
  % Continue the same session with more iterations.
  opts = fast_options(8);
  s.set_config(opts{:});
  more = s.run();
  check(more.iterations == 2 && more.iterations_total == 8);
end

function test_step_report()
  [train, test] = small_curves(100, 20, 9);
  net = hessfree.Net.autoencoder([784 8 3], 'logistic', 1);
  opts = fast_options(10);
  s = hessfree.Session(net, train, test, hessfree.Config(opts{:}));
  r = s.step();
  check(isstruct(r) && r.iteration == 1);
  fields = {'objective', 'train_error', 'test_error', 'lambda', 'rho', 'cg_iterations', ...
            'rejected', 'reject_reason_text', 'chunk_len'};
  for i = 1:numel(fields)
    check(isfield(r, fields{i}), 'report field %s', fields{i});
  end
  check(islogical(r.rejected) && r.chunk_len == 50 && r.cg_iterations >= 1);
  r2 = s.step();
  check(r2.iteration == 2 && s.iteration() == 2);
end

function test_predict_and_evaluate()
  net = hessfree.Net([5 4 3], {'tanh', 'linear'}, 2);
  check(net.num_params() == 5 * 4 + 4 + 4 * 3 + 3);
  [sizes, acts] = net.layers();
  check(isequal(sizes, [5 4 3]) && isequal(acts, {'tanh', 'linear'}));
  check(strcmp(net.describe(), '5-4(tanh)-3(linear)'), 'describe: %s', net.describe());
  X = reshape(1:15, 5, 3) / 15;
  Y = net.predict(X);
  check(isa(Y, 'single') && isequal(size(Y), [3 3]));
  check(isequal(Y, net.predict(single(X))), 'double and single inputs agree');
  check(isequal(Y(:, 2), net.predict(X(:, 2))), 'columns are examples');
  % A data set with these outputs as targets has (nearly) zero error.
  d = hessfree.Data(X, double(Y));
  [loss, err] = net.evaluate(d);
  check(err < 1e-10 && loss < 1e-10, 'loss %g err %g', loss, err);
  [g, l] = net.gradient(d);
  check(isequal(size(g), [net.num_params() 1]) && abs(l - loss) < 1e-12);
  expect_error(@() net.predict(ones(4, 2)), 'hessfree:HF_ERR_SHAPE_MISMATCH', 'has 5 inputs');
end

function test_params_and_save_load()
  net = hessfree.Net.autoencoder([10 6 2], 'linear', 3);
  p = net.num_params();
  theta = net.params();
  check(isa(theta, 'single') && isequal(size(theta), [p 1]));
  new_theta = (1:p)' / p;
  net.set_params(new_theta);
  check(isequal(net.params(), single(new_theta)));
  net.set_params(single(new_theta'));   % a row vector is accepted too
  copy = net.clone();
  check(isequal(copy.params(), net.params()));
  path = [tempname() '.hfnet'];
  cleanup = onCleanup(@() delete_if_exists(path));
  net.save(path);
  loaded = hessfree.Net.load(path);
  check(isequal(loaded.params(), net.params()) && strcmp(loaded.describe(), net.describe()));
  expect_error(@() hessfree.Net.load([path '.missing']), 'hessfree:HF_ERR_IO', '.missing');
end

function delete_if_exists(path)
  if exist(path, 'file')
    delete(path);
  end
end

function test_session_save_resume()
  [train, test] = small_curves(100, 20, 5);
  net = hessfree.Net.autoencoder([784 8 3], 'logistic', 2);
  opts = fast_options(4);
  a = hessfree.Session(net, train, test, opts{:});
  a.step();
  a.step();
  path = [tempname() '.hfsession'];
  cleanup = onCleanup(@() delete_if_exists(path));
  a.save(path);
  ra = a.run();
  b = hessfree.Session.resume(net, train, test, [], path);
  check(b.iteration() == 2);
  rb = b.run();
  check(rb.iterations == 2 && ra.iterations == 2);
  check(isequal(a.params(), b.params()), 'a resumed session continues bit-identically');
  check(rb.final_objective == ra.final_objective);
end

function test_config_values()
  cfg = hessfree.Config('chunk_size', 150, 'threads', 1, 'max_iters', 3, 'backend', 'cpu');
  check(cfg.get('chunk_size') == 150 && cfg.get('threads') == 1);
  check(strcmp(cfg.get('backend'), 'cpu'));
  cfg.set('initial_lambda', 12.5, 'backtrack', false, 'precondition', 1);
  check(cfg.get('initial_lambda') == 12.5);
  check(islogical(cfg.get('backtrack')) && ~cfg.get('backtrack') && cfg.get('precondition'));
  cfg.set('seed', int64(2)^60);
  check(isa(cfg.get('seed'), 'int64') && cfg.get('seed') == int64(2)^60, 'seed beyond 2^53 is exact');
  cfg.validate();
  check(~isempty(strfind(cfg.text(), 'chunk_size=150')));
  c2 = cfg.clone();
  c2.set('chunk_size', 10);
  check(cfg.get('chunk_size') == 150, 'a clone is independent');
  p = hessfree.Config.preset('curves', 'max_iters', 2);
  check(p.get('max_iters') == 2);
  expect_error(@() hessfree.Config.preset('nope'), 'hessfree:HF_ERR_INVALID_ARGUMENT', 'nope');
end

function test_config_struct_and_keys()
  cfg = hessfree.Config(struct('chunk_size', 40, 'backend', 'cpu'));
  check(cfg.get('chunk_size') == 40);
  s = cfg.to_struct();
  check(isstruct(s) && s.chunk_size == 40 && strcmp(s.backend, 'cpu'));
  again = hessfree.Config(s);
  check(strcmp(again.text(), cfg.text()), 'a struct of every option round-trips');
  keys = hessfree.Config.keys();
  names = {keys.name};
  check(numel(keys) > 20 && any(strcmp(names, 'chunk_size')) && any(strcmp(names, 'backend')));
  k = keys(strcmp(names, 'backend'));
  check(strcmp(k.type, 'string') && ~isempty(k.range) && ~isempty(k.doc));
  expect_error(@() hessfree.Config('chunk_size'), 'hessfree:HF_ERR_INVALID_ARGUMENT', 'pairs');
  expect_error(@() hessfree.Config(3, 4), 'hessfree:HF_ERR_INVALID_ARGUMENT', 'option name');
end

function test_wrong_shapes()
  X = rand(6, 5);
  expect_error(@() hessfree.Data(X, rand(2, 4)), 'hessfree:HF_ERR_SHAPE_MISMATCH', ...
               'targets have 4');
  expect_error(@() hessfree.Data(rand(3, 4, 2)), 'hessfree:HF_ERR_SHAPE_MISMATCH', '2-D');
  expect_error(@() hessfree.Data(zeros(5, 0)), 'hessfree:HF_ERR_INVALID_ARGUMENT', '');
  expect_error(@() hessfree.Data(int32(X)), 'hessfree:HF_ERR_WRONG_TYPE', 'int32');
  expect_error(@() hessfree.Data(X + 1i), 'hessfree:HF_ERR_WRONG_TYPE', 'complex');
  expect_error(@() hessfree.Data(sparse(X)), 'hessfree:HF_ERR_WRONG_TYPE', 'sparse');
  net = hessfree.Net.autoencoder([6 3 2], 'logistic', 1);
  expect_error(@() net.set_params(ones(3, 1)), 'hessfree:HF_ERR_SHAPE_MISMATCH', 'params');
  expect_error(@() net.set_params(ones(3, 3)), 'hessfree:HF_ERR_SHAPE_MISMATCH', 'vector');
  % Data of the wrong width for the network.
  wrong = hessfree.Data(rand(7, 5));
  expect_error(@() hessfree.Session(net, wrong), 'hessfree:HF_ERR_SHAPE_MISMATCH', '');
  % The objects involved are still usable afterwards.
  check(net.num_params() > 0);
  right = hessfree.Data(X);
  s = hessfree.Session(net, right, [], 'chunk_size', 5, 'max_iters', 1);
  check(s.run().iterations == 1);
end

function test_nan_data()
  X = rand(4, 6);
  X(2, 3) = NaN;
  expect_error(@() hessfree.Data(X), 'hessfree:HF_ERR_NON_FINITE', '');
  X(2, 3) = Inf;
  expect_error(@() hessfree.Data(single(X)), 'hessfree:HF_ERR_NON_FINITE', '');
  Y = rand(2, 6);
  Y(1, 1) = -Inf;
  expect_error(@() hessfree.Data(rand(4, 6), Y), 'hessfree:HF_ERR_NON_FINITE', '');
  expect_error(@() hessfree.Data(1e300 * ones(2, 2)), 'hessfree:HF_ERR_OUT_OF_RANGE', '');
  net = hessfree.Net([4 2], {'linear'}, 1);
  theta = double(net.params());
  theta(3) = NaN;
  expect_error(@() net.set_params(theta), 'hessfree:HF_ERR_NON_FINITE', 'params[2]');
  expect_error(@() net.predict([1; 2; NaN; 4]), 'hessfree:HF_ERR_NON_FINITE', '');
  check(all(isfinite(net.params())), 'θ unchanged by the refused update');
end

function test_unknown_option()
  e = expect_error(@() hessfree.Config('inital_lambda', 1), 'hessfree:HF_ERR_UNKNOWN_KEY', ...
                   'inital_lambda');
  check(~isempty(strfind(e.message, 'initial_lambda')), 'suggests the key: %s', e.message);
  cfg = hessfree.Config();
  expect_error(@() cfg.get('no_such_key'), 'hessfree:HF_ERR_UNKNOWN_KEY', 'no_such_key');
  expect_error(@() cfg.set('no_such_key', 'x'), 'hessfree:HF_ERR_UNKNOWN_KEY', 'no_such_key');
  % Options passed to a session go through the same checks.
  [train, ~] = small_curves(20, 1, 1);
  net = hessfree.Net.autoencoder([784 4 2], 'logistic', 1);
  expect_error(@() hessfree.Session(net, train, [], 'max_iter', 3), ...
               'hessfree:HF_ERR_UNKNOWN_KEY', 'max_iter');
end

function test_out_of_range_and_wrong_type()
  cfg = hessfree.Config();
  expect_error(@() cfg.set('ls_shrink', 2), 'hessfree:HF_ERR_OUT_OF_RANGE', '(0, 1)');
  expect_error(@() cfg.set('threads', -1), 'hessfree:HF_ERR_OUT_OF_RANGE', 'threads');
  expect_error(@() cfg.set('backend', 'abacus'), 'hessfree:HF_ERR_OUT_OF_RANGE', 'cpu');
  expect_error(@() cfg.set('backend', 3), 'hessfree:HF_ERR_WRONG_TYPE', 'backend');
  expect_error(@() cfg.set('max_iters', 2.5), 'hessfree:HF_ERR_WRONG_TYPE', 'integer');
  expect_error(@() cfg.set('max_iters', 'ten'), 'hessfree:HF_ERR_WRONG_TYPE', 'max_iters');
  expect_error(@() cfg.set('initial_lambda', [1 2]), 'hessfree:HF_ERR_WRONG_TYPE', '');
  expect_error(@() cfg.set('backtrack', 2), 'hessfree:HF_ERR_WRONG_TYPE', 'true/false');
  cfg.set('rho_low', 0.9, 'rho_high', 0.1);   % each in range, together invalid
  expect_error(@() cfg.validate(), 'hessfree:HF_ERR_OUT_OF_RANGE', 'rho');
  % Nothing was changed by the refused values.
  check(cfg.get('ls_shrink') == 0.8 && cfg.get('threads') == hessfree.Config().get('threads'), ...
        'refused values leave the config unchanged');
  expect_error(@() hessfree.Data.curves(0, 1), 'hessfree:HF_ERR_INVALID_ARGUMENT', '');
  expect_error(@() hessfree.Data.curves(-3, 1), 'hessfree:HF_ERR_OUT_OF_RANGE', 'non-negative');
  expect_error(@() hessfree.Data.curves(5, -1), 'hessfree:HF_ERR_OUT_OF_RANGE', 'seed');
  expect_error(@() hessfree.Data.curves(5, 0.5), 'hessfree:HF_ERR_OUT_OF_RANGE', 'seed');
end

function test_bad_layer_specs()
  expect_error(@() hessfree.Net([784 0 10], {'logistic', 'logistic'}, 1), ...
               'hessfree:HF_ERR_INVALID_ARGUMENT', 'zero units');
  expect_error(@() hessfree.Net([2^40 4], {'linear'}, 1), 'hessfree:HF_ERR_RESOURCE_LIMIT', '');
  expect_error(@() hessfree.Net([4 3 2], {'sigmoid', 'linear'}, 1), ...
               'hessfree:HF_ERR_INVALID_ARGUMENT', 'sigmoid');
  expect_error(@() hessfree.Net([4 3 2], {'logistic'}, 1), 'hessfree:HF_ERR_SHAPE_MISMATCH', '');
  expect_error(@() hessfree.Net([4 -3 2], 'logistic', 1), 'hessfree:HF_ERR_OUT_OF_RANGE', 'sizes(2)');
  expect_error(@() hessfree.Net([4 NaN 2], 'logistic', 1), 'hessfree:HF_ERR_NON_FINITE', 'sizes(2)');
  expect_error(@() hessfree.Net([4 2.5 2], 'logistic', 1), 'hessfree:HF_ERR_OUT_OF_RANGE', '');
  expect_error(@() hessfree.Net(4, {}, 1), 'hessfree:HF_ERR_INVALID_ARGUMENT', '');
  expect_error(@() hessfree.Net.autoencoder([784 32 6], 'relu', 1), ...
               'hessfree:HF_ERR_INVALID_ARGUMENT', '');
  expect_error(@() hessfree.Net.preset('imagenet', 1), 'hessfree:HF_ERR_INVALID_ARGUMENT', 'imagenet');
  net = hessfree.Net(int32([4 3 2]), {'tanh', 'linear'}, uint64(2)^60);   % integer classes work
  check(net.num_params() == 23);
end

function test_freed_objects()
  net = hessfree.Net.autoencoder([8 4 2], 'logistic', 1);
  raw = net.id;
  check(hessfree_mex('net_num_params', raw) > 0);
  clear net;   % the destructor frees the C object
  expect_error(@() hessfree_mex('net_num_params', raw), 'hessfree:HF_ERR_INVALID_HANDLE', 'freed');
  hessfree_mex('net_free', raw);   % a second free is harmless

  d = hessfree.Data(rand(3, 4));
  d.free();
  expect_error(@() d.dims(), 'hessfree:HF_ERR_INVALID_HANDLE', 'freed');
  expect_error(@() d.inputs(), 'hessfree:HF_ERR_INVALID_HANDLE', '');
  check(~isempty(strfind(evalc('disp(d)'), 'unusable')));
  clear d;   % the destructor after free() is harmless

  cfg = hessfree.Config();
  cfg.free();
  expect_error(@() cfg.get('max_iters'), 'hessfree:HF_ERR_INVALID_HANDLE', '');

  [train, ~] = small_curves(20, 1, 2);
  n2 = hessfree.Net.autoencoder([784 4 2], 'logistic', 1);
  s = hessfree.Session(n2, train, [], 'chunk_size', 10, 'max_iters', 1);
  sraw = s.id;
  n2.free();
  train.free();
  check(s.run().iterations == 1, 'a session keeps its own net copy and data');
  s.free();
  expect_error(@() s.step(), 'hessfree:HF_ERR_INVALID_HANDLE', '');
  expect_error(@() hessfree_mex('session_run', sraw, []), 'hessfree:HF_ERR_INVALID_HANDLE', '');
  % Objects freed inside a function go away with it.
  raws = make_and_drop();
  for i = 1:numel(raws)
    expect_error(@() hessfree_mex('data_size', raws(i)), 'hessfree:HF_ERR_INVALID_HANDLE', '');
  end
end

function raws = make_and_drop()
  raws = uint64(zeros(1, 5));
  for i = 1:5
    d = hessfree.Data(rand(2, 3));
    raws(i) = d.id;
  end
end

function test_forged_and_wrong_kind_handles()
  net = hessfree.Net([3 2], {'linear'}, 1);
  d = hessfree.Data(rand(3, 4));
  expect_error(@() hessfree_mex('net_num_params', uint64(12345)), 'hessfree:HF_ERR_INVALID_HANDLE', '');
  expect_error(@() hessfree_mex('net_num_params', d.id), 'hessfree:HF_ERR_INVALID_HANDLE', '');
  expect_error(@() hessfree_mex('data_free', net.id), 'hessfree:HF_ERR_INVALID_HANDLE', '');
  check(net.num_params() == 8, 'a wrong-kind free frees nothing');
  expect_error(@() hessfree_mex('net_num_params', double(net.id)), 'hessfree:HF_ERR_INVALID_HANDLE', ...
               'uint64');
  expect_error(@() hessfree_mex('net_num_params', uint64([1 2])), 'hessfree:HF_ERR_INVALID_HANDLE', '');
  expect_error(@() hessfree_mex('net_num_params', uint64(0)), 'hessfree:HF_ERR_NULL_POINTER', '');
  expect_error(@() hessfree.Session(d, d), 'hessfree:HF_ERR_WRONG_TYPE', 'hessfree.Net');
  expect_error(@() hessfree.Session(net, net), 'hessfree:HF_ERR_WRONG_TYPE', 'hessfree.Data');
end

function test_wrong_commands()
  expect_error(@() hessfree_mex('no_such_command'), 'hessfree:HF_ERR_INVALID_ARGUMENT', ...
               'unknown command');
  expect_error(@() hessfree_mex(), 'hessfree:HF_ERR_INVALID_ARGUMENT', 'command name');
  expect_error(@() hessfree_mex(42), 'hessfree:HF_ERR_INVALID_ARGUMENT', 'command name');
  expect_error(@() hessfree_mex('data_curves', 3), 'hessfree:HF_ERR_INVALID_ARGUMENT', 'usage');
  expect_error(@() hessfree_mex('net_new_autoencoder', [4 2], 'linear', 1, 5), ...
               'hessfree:HF_ERR_INVALID_ARGUMENT', 'usage');
  expect_error(@() wrong_outputs(), 'hessfree:HF_ERR_INVALID_ARGUMENT', 'outputs');
  expect_error(@() hessfree_mex('data_curves', 'ten', 1), 'hessfree:HF_ERR_WRONG_TYPE', '');
  expect_error(@() hessfree_mex('net_load', 17), 'hessfree:HF_ERR_WRONG_TYPE', 'path');
end

function wrong_outputs()
  [a, b] = hessfree_mex('version'); %#ok<ASGLU>
end

function s = callback_session(max_iters)
  [train, test] = small_curves(60, 20, 8);
  net = hessfree.Net.autoencoder([784 6 2], 'logistic', 3);
  opts = fast_options(max_iters);
  s = hessfree.Session(net, train, test, opts{:});
end

function test_callback_error()
  s = callback_session(5);
  expect_error(@() s.run(@(r) error('user:boom', 'boom at iteration %d', r.iteration)), ...
               'user:boom', 'boom at iteration 1');
  check(s.iteration() == 1, 'the run stopped after the failing callback');
  % The session is still usable: continue without a callback.
  summary = s.run();
  check(summary.iterations == 4 && s.iteration() == 5);
end

function test_callback_error_without_identifier()
  s = callback_session(3);
  expect_error(@() s.run(@(r) error('plain failure in user code')), 'hessfree:callback', ...
               'plain failure in user code');
  % The host's own errors keep their identifier (Octave:undefined-function,
  % MATLAB:UndefinedFunction).
  try
    s.run(@(r) undefined_function_xyz(r));
    error('test:check', 'expected an error');
  catch err
    check(~isempty(regexpi(err.identifier, 'undefined', 'once')), 'id %s', err.identifier);
    check(~isempty(strfind(err.message, 'undefined_function_xyz')), 'message %s', err.message);
  end
  expect_error(@() s.run(42), 'hessfree:HF_ERR_WRONG_TYPE', 'function handle');
  check(s.iteration() == 2);
end

function test_callback_stop()
  global HESSFREE_TEST_REPORTS
  HESSFREE_TEST_REPORTS = {};
  s = callback_session(10);
  summary = s.run(@(r) stop_at(s, r, 2));
  check(summary.iterations == 2, 'stopped after 2, ran %d', summary.iterations);
  check(~isempty(strfind(summary.termination, 'stop')), 'termination "%s"', summary.termination);
  check(numel(HESSFREE_TEST_REPORTS) == 2);
end

function test_callback_calls_session()
  % Calling the session from its own callback is refused by the library
  % (no deadlock); the refusal surfaces as the run's error.
  s = callback_session(3);
  expect_error(@() s.run(@(r) s.params()), 'hessfree:HF_ERR_UNSUPPORTED', 'callback');
  check(s.iteration() == 1 && numel(s.params()) > 0);
end

function test_bad_input_table()
  % The shared bad-input table (tests/bad_input/cases.tsv) through this binding.
  [~, failed] = run_bad_input_table();
  check(failed == 0, '%d rows of the shared bad-input table failed', failed);
end

function test_canonical()
  all = hessfree.Data.curves(400, 7);
  X = all.inputs();
  train = hessfree.Data(X(:, 1:300));
  test = hessfree.Data(X(:, 301:400));
  net = hessfree.Net.autoencoder([784 32 6], 'logistic', 11);
  cfg = hessfree.Config('chunk_size', 150, 'threads', 1, 'max_iters', 3, 'backend', 'cpu');
  s = hessfree.Session(net, train, test, cfg);
  summary = s.run();
  line = sprintf('CANONICAL %.17g %.17g %.17g', summary.final_objective, ...
                 summary.final_train_error, summary.final_test_error);
  fprintf('%s\n', line);
  expected = getenv('HESSFREE_CANONICAL_EXPECTED');
  if ~isempty(expected)
    check(strcmp(line, strtrim(expected)), 'canonical line differs from C:\n  %s\n  %s', ...
          line, expected);
  end
end
