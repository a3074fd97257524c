classdef Session < handle
  % hessfree.Session  One Hessian-free training run over a network and data.
  %
  %   s = hessfree.Session(net, train)
  %   s = hessfree.Session(net, train, test)            test may be []
  %   s = hessfree.Session(net, train, test, cfg)       cfg: hessfree.Config or struct
  %   s = hessfree.Session(net, train, test, 'max_iters', 10, 'threads', 1, ...)
  %   summary = s.run()                 until a stop condition; a struct
  %   summary = s.run(@(r) fprintf('%d %g\n', r.iteration, r.objective))
  %   report = s.step()                 one iteration; a struct
  %   s.stop()                          ask a run to stop (also from a callback)
  %   theta = s.params();  net2 = s.net();  s.save(path)
  %   s = hessfree.Session.resume(net, train, test, cfg, path)
  %
  % The session trains a copy of net's architecture and current θ; net,
  % the data and cfg may be changed or freed afterwards.
  %
  % Progress callback: called after every iteration with the report struct
  % (fields iteration, objective, train_error, test_error, lambda, rho,
  % cg_iterations, rejected, ...). Its return value, if any, is ignored; to
  % end the run early call s.stop() inside it. An error raised in the
  % callback stops the run after that iteration and is raised again by run()
  % with the same identifier and message; the session stays usable.

  properties (SetAccess = private)
    id = uint64(0)  % the C handle (uint64); stays set after free()
  end

  methods
    function obj = Session(net, train, test, varargin)
      if nargin == 1 && isa(net, 'uint64') && isscalar(net)
        obj.id = net;  % internal: wrap (and own) a handle
        return;
      end
      if nargin < 2
        error('hessfree:HF_ERR_INVALID_ARGUMENT', ...
              'hessfree.Session(net, train, test, options...): net and train are required');
      end
      if nargin < 3, test = []; end
      cfg = hessfree.Config.from(varargin{:});
      obj.id = hessfree_mex('session_new', hessfree.Net.handle_of(net), ...
                            hessfree.Data.handle_of(train), hessfree.Data.handle_of(test), cfg.id);
    end

    function delete(obj)
      hessfree.Session.release_(obj.id);
    end

    function free(obj)
      % Frees the C object now; later use raises 'hessfree:HF_ERR_INVALID_HANDLE'.
      hessfree_mex('session_free', obj.id);
    end

    function summary = run(obj, callback)
      % Runs iterations until a stop condition; returns the summary struct
      % (iterations, final_objective, final_train_error, final_test_error,
      % final_lambda, termination, ...).
      if nargin < 2, callback = []; end
      summary = hessfree_mex('session_run', obj.id, callback);
    end

    function report = step(obj)
      % Runs one iteration; returns its report struct.
      report = hessfree_mex('session_step', obj.id);
    end

    function stop(obj)
      % Asks a run in progress to stop after its current iteration.
      hessfree_mex('session_request_stop', obj.id);
    end

    function theta = params(obj)
      % The current θ (single column vector).
      theta = hessfree_mex('session_params', obj.id);
    end

    function net = net(obj)
      % A new hessfree.Net with the session's architecture and current θ.
      net = hessfree.Net(hessfree_mex('session_net', obj.id));
    end

    function k = iteration(obj)
      % Iterations done (across runs and resumes).
      k = hessfree_mex('session_iteration', obj.id);
    end

    function l = lambda(obj)
      % The current damping λ.
      l = hessfree_mex('session_lambda', obj.id);
    end

    function save(obj, path)
      % Saves the whole session state (atomically) for resume().
      hessfree_mex('session_save', obj.id, path);
    end

    function set_config(obj, varargin)
      % Replaces the options (a Config, a struct or name/value pairs; unset
      % keys get their defaults). θ, λ and the schedule keep their state.
      cfg = hessfree.Config.from(varargin{:});
      hessfree_mex('session_set_config', obj.id, cfg.id);
    end

    function cfg = config(obj)
      % A copy of the session's options as a hessfree.Config.
      cfg = hessfree.Config(hessfree_mex('session_get_config', obj.id));
    end

    function s = backend(obj)
      % The compute backend and how it was chosen.
      s = hessfree_mex('session_backend', obj.id);
    end

    function s = summary_text(obj, full)
      % The last run's summary as text (one line, or a table if full).
      if nargin < 2, full = false; end
      s = hessfree_mex('session_summary_text', obj.id, double(full));
    end

    function s = report_text(obj)
      % The last iteration's report as one log line.
      s = hessfree_mex('session_report_text', obj.id);
    end

    function disp(obj)
      try
        fprintf('  hessfree.Session: %d iterations, lambda %g, backend %s\n', ...
                obj.iteration(), obj.lambda(), obj.backend());
      catch err
        fprintf('  hessfree.Session (unusable: %s)\n', err.message);
      end
    end
  end

  methods (Static)
    function s = resume(net, train, test, cfg, path)
      % Resumes a session saved with save(): net gives the architecture,
      % cfg ([] = the saved options) the options.
      if isempty(cfg)
        cfg_id = uint64(0);
      else
        c = hessfree.Config.from(cfg);
        cfg_id = c.id;
      end
      s = hessfree.Session(hessfree_mex('session_resume', hessfree.Net.handle_of(net), ...
          hessfree.Data.handle_of(train), hessfree.Data.handle_of(test), cfg_id, path));
    end
  end

  methods (Static, Hidden)
    function release_(h)
      if h ~= 0
        try
          hessfree_mex('session_free', h);
        catch
        end
      end
    end
  end
end
