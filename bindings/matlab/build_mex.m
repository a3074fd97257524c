function mexfile = build_mex(varargin)
% BUILD_MEX  Builds hessfree_mex (the MEX gateway) with MATLAB's mex or
% Octave's mkoctfile --mex, linking the static library libhessfree.a so the
% MEX file needs no shared library at run time.
%
%   build_mex()                           defaults below
%   build_mex('lib', '/path/libhessfree.a', 'include', '/path/include', ...
%             'outdir', '/path/out', 'verbose', true)
%
% Defaults (relative to this folder, the crate is two levels up):
%   lib      ../../target/release/libhessfree.a, else ../../target/debug/libhessfree.a
%            (build it first: cargo build --release)
%   include  ../../include (hessfree.h)
%   outdir   this folder
% Returns the path of the MEX file. Add outdir and this folder (for the
% +hessfree package) to the path to use it.

  here = fileparts(mfilename('fullpath'));
  root = fileparts(fileparts(here));
  opts = struct('lib', '', 'include', fullfile(root, 'include'), 'outdir', here, 'verbose', false);
  if mod(numel(varargin), 2) ~= 0
    error('hessfree:build', 'build_mex: options must be name/value pairs');
  end
  for i = 1:2:numel(varargin)
    name = varargin{i};
    if ~ischar(name) || ~isfield(opts, name)
      error('hessfree:build', 'build_mex: unknown option ''%s'' (lib, include, outdir, verbose)', ...
            char(name));
    end
    opts.(name) = varargin{i + 1};
  end
  if isempty(opts.lib)
    opts.lib = default_library(root);
  end
  if ~exist(opts.lib, 'file')
    error('hessfree:build', 'build_mex: static library not found: %s (run cargo build --release)', opts.lib);
  end
  if ~exist(fullfile(opts.include, 'hessfree.h'), 'file')
    error('hessfree:build', 'build_mex: hessfree.h not found in %s', opts.include);
  end
  if ~exist(opts.outdir, 'dir')
    mkdir(opts.outdir);
  end

  source = fullfile(here, 'hessfree_mex.c');
  % What the Rust standard library needs from the system when linked
  % statically (rustc --print native-static-libs on Linux).
  if ispc
    syslibs = {'-lws2_32', '-luserenv', '-lbcrypt', '-lntdll'};
  elseif ismac
    syslibs = {'-lpthread', '-ldl', '-lm'};
  else
    syslibs = {'-lpthread', '-ldl', '-lm', '-lrt', '-lutil'};
  end
  % Keep the library's symbols out of the MEX file's dynamic symbol table,
  % so another copy of hessfree (or another Rust library) in the same
  % process cannot interpose on them.
  hide = {};
  if isunix && ~ismac
    hide = {'-Wl,--exclude-libs,ALL'};
  end

  if is_octave()
    mexfile = fullfile(opts.outdir, ['hessfree_mex.' mexext()]);
    args = [{'--mex', '-o', mexfile, ['-I' opts.include], source, opts.lib}, syslibs, hide];
    if opts.verbose
      args = [{'-v'}, args];
    end
    % mkoctfile passes -Wl,... options through to the linker.
    [out, status] = mkoctfile(args{:});
    if status ~= 0
      error('hessfree:build', 'build_mex: mkoctfile failed (status %d):\n%s', status, out);
    end
    if opts.verbose
      fprintf('%s', out);
    end
  else
    mexfile = fullfile(opts.outdir, ['hessfree_mex.' mexext()]);
    args = {'-outdir', opts.outdir, ['-I' opts.include], source, opts.lib};
    if ~isempty(hide)
      args = [args, {['LDFLAGS=$LDFLAGS ' hide{1}]}];
    end
    args = [args, syslibs];
    if opts.verbose
      args = [{'-v'}, args];
    else
      args = [{'-silent'}, args];
    end
    mex(args{:});
  end
end

function yes = is_octave()
  yes = exist('OCTAVE_VERSION', 'builtin') ~= 0;
end

function lib = default_library(root)
  lib = fullfile(root, 'target', 'release', 'libhessfree.a');
  if ~exist(lib, 'file')
    lib = fullfile(root, 'target', 'debug', 'libhessfree.a');
  end
end
